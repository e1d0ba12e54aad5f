"""One Ray Serve replica: an Engine and the Preprocessors loaded once, one job at a time, steps streamed back.

Ray's cancel does not interrupt a running synchronous loop, so Stop reaches a replica's job through the cancel board
(a small actor the replica polls while the job runs); the job's own CancelToken then stops it within a step."""

from __future__ import annotations

import ipaddress
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import ray
import torch
from ray import serve

from hub import HubAccess
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


def _serve_grpc_on_loopback() -> None:
    """Serve 2.60 opens each replica's inter-deployment gRPC port on every interface ("[::]:0", no setting changes it);
    on a Ray kept on loopback (`--ray local`) nothing may listen beyond 127.0.0.1, so this replica's port goes there.
    Runs in the replica's own process before Serve opens the port (right after this constructor). By hand: no setting."""
    from ray.serve._private import replica as serve_replica

    bind = serve_replica.add_port_to_grpc_server
    serve_replica.add_port_to_grpc_server = lambda server, address: bind(server, address.replace("[::]", "127.0.0.1"))


class EngineReplica:
    """The deployment's class (app.py's flags choose its resources); everything the Backend protocol needs, by job."""

    def __init__(self, model: str, engine_options: dict, offline: bool, threads: int | None = None):
        if ipaddress.ip_address(ray.util.get_node_ip_address()).is_loopback:
            _serve_grpc_on_loopback()
        if threads:
            torch.set_num_threads(threads)
        hub = HubAccess(offline)
        engine = Engine.load(model, hub=hub, **engine_options)
        lazy = LazyEngine(model, lambda _: engine)
        lazy.start().join()
        device = "cuda" if engine.base.device.type == "cuda" else "cpu"
        limits = engine.limits  # the server's limits travel with the engine options; the maps obey them here too
        annotators = Preprocessors(device=device, hub=hub, max_map_pixels=limits.max_map_pixels,
                                   max_map_aspect=limits.max_map_aspect)
        self.local = LocalBackend(lazy, annotators)
        context = ray.get_runtime_context()
        replica = serve.get_replica_context().replica_id.unique_id  # the id Serve's status lists it under
        self.served = Served(context.get_node_id(), replica, os.getpid())
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
        if method not in ("preprocess", "poses", "weights_state", "preprocessor_states", "load_controlnet", "controlnet_needs",
                          "status", "unload"):
            raise ValueError(f"unknown replica call {method!r}")
        result = getattr(self.local, method)(*args)
        if method == "status":
            return {**result, "answered_by": f"replica {self.served.replica} on node {self.served.node_id[:12]}"}
        return result
