"""A job's stop flag: set by its caller (Stop, a closed connection) or by the server's time limit."""

from __future__ import annotations

import threading
import time

from pipelines.denoise import JobCancelled


class JobTimedOut(JobCancelled):
    """The job ran past the server's time limit; the message says what to lower."""


class CancelToken:
    """One per job, so Stop cancels only the job of the user who pressed it."""

    def __init__(self, time_limit_s: float | None = None) -> None:
        self._event = threading.Event()
        self._deadline: float | None = None
        self.time_limit_s: float | None = None
        if time_limit_s:
            self.limit_time(time_limit_s)

    def limit_time(self, seconds: float) -> None:
        """Stop the job `seconds` from now (a tighter earlier limit stays)."""
        deadline = time.monotonic() + seconds
        if self._deadline is None or deadline < self._deadline:
            self._deadline, self.time_limit_s = deadline, seconds

    def cancel(self) -> None:
        self._event.set()

    @property
    def timed_out(self) -> bool:
        return self._deadline is not None and time.monotonic() > self._deadline

    @property
    def cancelled(self) -> bool:
        return self._event.is_set() or self.timed_out

    def stopped(self) -> JobCancelled:
        """The exception that reports why this job stopped."""
        if self.timed_out and not self._event.is_set():
            return JobTimedOut(f"The job ran past this server's time limit of {self.time_limit_s:g} s and was stopped; "
                               "lower the steps, the size or the batch size.")
        return JobCancelled()

    def raise_if_cancelled(self) -> None:
        """Call between pieces of work that cannot be interrupted (preprocessor runs)."""
        if self.cancelled:
            raise self.stopped()
