"""One Ray Serve replica: an Engine and the Preprocessors loaded once, one job at a time, steps streamed back.

Ray's cancel does not interrupt a running synchronous loop, so Stop reaches a replica's job through the cancel board
(a small actor the replica polls while the job runs); the job's own CancelToken then stops it within a step."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import ray
import torch

from pipelines.cancel import CancelToken
from pipelines.engine import Engine
from pipelines.lazy import LazyEngine
from pipelines.streaming import CellDone, stream_job
from preprocessors import Preprocessors
from serving.local import LocalBackend

NAMESPACE = "controlnet-studio"
BOARD = "cancel-board"
_POLL_S = 0.2


@dataclass(frozen=True)
class Served:
    """The first item of every streamed job: which node and replica took it."""

    node_id: str
    replica: str
    pid: int


@ray.remote(num_cpus=0)
class CancelBoard:
    """Job ids whose caller pressed Stop or went away; kept for a while, then forgotten."""

    KEEP_S = 3600.0

    def __init__(self) -> None:
        self._cancelled: dict[str, float] = {}

    def cancel(self, job_id: str) -> None:
        now = time.monotonic()
        self._cancelled = {key: at for key, at in self._cancelled.items() if now - at < self.KEEP_S}
        self._cancelled[job_id] = now

    def is_cancelled(self, job_id: str) -> bool:
        return job_id in self._cancelled


class EngineReplica:
    """The deployment's class (app.py's flags choose its resources); everything the Backend protocol needs, by job."""

    def __init__(self, model: str, engine_options: dict, offline: bool, threads: int | None = None):
        if threads:
            torch.set_num_threads(threads)
        engine = Engine.load(model, **engine_options)
        lazy = LazyEngine(model, lambda _: engine)
        lazy.start().join()
        device = "cuda" if engine.base.device.type == "cuda" else "cpu"
        limits = engine.limits  # the server's limits travel with the engine options; the maps obey them here too
        annotators = Preprocessors(device=device, offline=offline, max_map_pixels=limits.max_map_pixels,
                                   max_map_aspect=limits.max_map_aspect)
        self.local = LocalBackend(lazy, annotators)
        context = ray.get_runtime_context()
        self.served = Served(context.get_node_id(), context.get_actor_id() or "", os.getpid())
        self.board = ray.get_actor(BOARD, namespace=NAMESPACE)

    def run(self, kind: str, payload: object, job_id: str, save: bool) -> Iterator[object]:
        """A generate or matrix job: Served, then StepUpdates (and CellDone per finished cell), then Done."""
        token = CancelToken()
        finished = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(job_id, token, finished), daemon=True)
        watcher.start()

        def work(on_step, cancel):
            if kind == "generate":
                return self.local.generate(payload, on_step, cancel, save)
            return self.local.matrix(payload, on_step, cancel, save, on_cell=lambda index, result: on_step(CellDone(index, result)))

        try:
            yield self.served
            yield from stream_job(work, token)
        finally:  # a caller that went away closes this generator: its job stops within a step
            token.cancel()
            finished.set()

    def _watch(self, job_id: str, token: CancelToken, finished: threading.Event) -> None:
        while not finished.wait(_POLL_S):
            try:
                if ray.get(self.board.is_cancelled.remote(job_id), timeout=5):
                    token.cancel()
                    return
            except ray.exceptions.GetTimeoutError:
                continue

    def call(self, method: str, *args: object) -> object:
        """The small calls (preprocess, readiness, status, unload), run on this replica's LocalBackend."""
        if method not in ("preprocess", "weights_state", "preprocessor_states", "load_controlnet", "controlnet_needs",
                          "status", "unload"):
            raise ValueError(f"unknown replica call {method!r}")
        result = getattr(self.local, method)(*args)
        if method == "status":
            return {**result, "node_id": self.served.node_id, "replica": self.served.replica}
        return result
