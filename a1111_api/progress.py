"""The A1111 API's own jobs: each caller's running job (for /progress and /interrupt, which never reach a browser
user's job) and the queue's door, which counts the UI's waiting jobs and the API's against one --queue-size."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from PIL import Image

from a1111_api.errors import ApiError
from pipelines.cancel import CancelToken
from pipelines.engine import StepUpdate


@dataclass
class ApiJob:
    """One txt2img or detect call: its Stop, and where it is (batch, step, latest preview)."""

    cancel: CancelToken = field(default_factory=CancelToken)
    kind: str = "txt2img"
    batches: int = 1
    batch: int = 0
    step: int = 0
    steps: int = 0
    started: float = field(default_factory=time.monotonic)
    timestamp: str = field(default_factory=lambda: time.strftime("%Y%m%d%H%M%S"))
    preview: Image.Image | None = None

    def update(self, batch: int, update: StepUpdate) -> None:
        self.batch, self.step, self.steps = batch, update.step, update.total
        if update.previews:
            self.preview = update.previews[0]

    @property
    def fraction(self) -> float:
        done = self.batch + (self.step / self.steps if self.steps else 0.0)
        return min(1.0, done / max(1, self.batches))


class ApiJobs:
    """Jobs by caller; at most `queue_size` API and UI jobs waiting or running, past it 'busy' (HTTP 503)."""

    def __init__(self, queue_size: int, ui_waiting: Callable[[], int] = lambda: 0):
        self.queue_size, self.ui_waiting = queue_size, ui_waiting
        self._lock = threading.Lock()
        self._jobs: dict[str, list[ApiJob]] = {}

    @contextmanager
    def admitted(self, caller: str, job: ApiJob) -> Iterator[ApiJob]:
        with self._lock:
            held = sum(len(jobs) for jobs in self._jobs.values())
            if held + self.ui_waiting() >= self.queue_size:
                raise ApiError(503, f"The queue is full ({self.queue_size} jobs waiting or running); try again in a minute.")
            self._jobs.setdefault(caller, []).append(job)
        try:
            yield job
        finally:
            with self._lock:
                self._jobs[caller].remove(job)
                if not self._jobs[caller]:
                    del self._jobs[caller]

    def current(self, caller: str) -> tuple[ApiJob | None, int]:
        """The caller's oldest job still going, and how many they have."""
        with self._lock:
            jobs = list(self._jobs.get(caller, ()))
        return (jobs[0] if jobs else None), len(jobs)

    def interrupt(self, caller: str) -> int:
        """Stop every job of this caller (within a step); returns how many."""
        with self._lock:
            jobs = list(self._jobs.get(caller, ()))
        for job in jobs:
            job.cancel.cancel()
        return len(jobs)


def progress_body(job: ApiJob | None, count: int, preview: str | None) -> dict:
    """A1111's /sdapi/v1/progress shape."""
    if job is None:
        state = {"skipped": False, "interrupted": False, "stopping_generation": False, "job": "", "job_count": 0,
                 "job_timestamp": "0", "job_no": 0, "sampling_step": 0, "sampling_steps": 0}
        return {"progress": 0.0, "eta_relative": 0.0, "state": state, "current_image": None, "textinfo": None}
    fraction = job.fraction
    elapsed = time.monotonic() - job.started
    eta = elapsed / fraction - elapsed if fraction > 0 else 0.0
    state = {"skipped": False, "interrupted": job.cancel.cancelled, "stopping_generation": False, "job": job.kind,
             "job_count": count, "job_timestamp": job.timestamp, "job_no": job.batch, "sampling_step": job.step,
             "sampling_steps": job.steps}
    return {"progress": round(fraction, 4), "eta_relative": round(eta, 2), "state": state, "current_image": preview,
            "textinfo": f"Step {job.step}/{job.steps}" if job.steps else "Waiting for the GPU"}
