"""Run a blocking engine call on a worker thread and stream its step updates to a generator (a Gradio event, a Ray replica)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pipelines.cancel import CancelToken
from pipelines.engine import StepUpdate

_POLL_SECONDS = 0.25
_END = object()  # the worker's last item: its job is over
_MAX_WAIT_SECONDS = 3600.0  # a backstop: the studio's time limit (Limits.max_job_seconds) stops jobs first
_STOP_WAIT_SECONDS = 120.0  # a preprocessor run cannot be interrupted; the engine stops within a step


@dataclass(frozen=True)
class CellDone:
    """A streamed event: matrix cell `index` has finished (its result can be shown before the rest)."""

    index: int
    result: Any


@dataclass(frozen=True)
class Done:
    """The job's return value, delivered after the last step update."""

    value: Any


def stream_job(work: Callable[[Callable[[StepUpdate], None], CancelToken], Any], cancel: CancelToken) -> Iterator[StepUpdate | Done]:
    """Yield StepUpdates, then Done(result). If the consumer stops early (Stop, tab closed), cancel the job."""
    updates: queue.Queue = queue.Queue(maxsize=256)
    outcome: dict[str, Any] = {}

    def on_step(update: StepUpdate) -> None:
        try:
            updates.put_nowait(update)
        except queue.Full:  # a slow browser must never stall sampling; drop the preview
            pass

    def run() -> None:
        try:
            outcome["value"] = work(on_step, cancel)
        except BaseException as error:  # handed to the consumer thread, which raises it
            outcome["error"] = error
        finally:  # wake the consumer now, not at its next poll (that cost every job up to a quarter second)
            try:
                updates.put_nowait(_END)
            except queue.Full:  # the consumer is behind; it notices the end at its next poll
                pass

    thread = threading.Thread(target=run, name="studio-job", daemon=True)
    thread.start()
    finished = False
    try:
        waited = 0.0
        while waited < _MAX_WAIT_SECONDS:
            try:
                item = updates.get(timeout=_POLL_SECONDS)
                if item is _END:
                    break
                yield item
            except queue.Empty:
                if not thread.is_alive():
                    break
                waited += _POLL_SECONDS
        if thread.is_alive():  # bounded: a job that outlives the wait is cancelled, not waited on forever
            cancel.cancel()
        thread.join(timeout=60)
        finished = True
    finally:
        if not finished:  # Stop or a closed tab: keep this GPU slot until the worker has really stopped
            cancel.cancel()
            thread.join(timeout=_STOP_WAIT_SECONDS)
    if "error" in outcome:
        raise outcome["error"]
    yield Done(outcome.get("value"))
