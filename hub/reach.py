"""Whether weights may be fetched from the Hugging Face hub right now: the one place that knows it.

huggingface_hub retries an unreachable hub for about 23 s per file (five tries with backoff), and nothing remembers
the failure, so without this every preview of a missing annotator, every TAESD or LoRA lookup paid it again. One
short probe decides; a failure is remembered for a while, during which every loader looks in the local cache only
and fails at once with its fetch command. `--offline` (or HF_HUB_OFFLINE) never probes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 1.5
REMEMBER_FAILURE_S = 120.0  # a hub that comes back is used again after this long
REMEMBER_SUCCESS_S = 600.0
_TRUE = ("1", "true", "yes", "on")


def offline_by_environment() -> bool:
    """HF_HUB_OFFLINE set: huggingface_hub would refuse the network anyway."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def hub_endpoint() -> str:
    """The hub huggingface_hub talks to (HF_ENDPOINT for mirrors), read the way it reads it."""
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def answers(url: str, timeout_s: float) -> bool:
    """One HTTP request, no retries: any answer below 500 means the hub is there."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout_s):
            return True
    except urllib.error.HTTPError as error:
        return error.code < 500
    except (OSError, ValueError):  # DNS, refused, timed out, TLS, a malformed HF_ENDPOINT
        return False


class HubAccess:
    """Ask `local_only()` before any fetch; `reason()` says why files cannot come in, for the user's sentence."""

    def __init__(self, offline: bool | None = None, endpoint: str | None = None, timeout_s: float = PROBE_TIMEOUT_S,
                 probe: Callable[[str, float], bool] = answers, clock: Callable[[], float] = time.monotonic):
        self.offline = bool(offline) or offline_by_environment()
        self.endpoint = endpoint or hub_endpoint()
        self._timeout_s = timeout_s
        self._probe = probe
        self._clock = clock
        self._reachable: bool | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def local_only(self) -> bool:
        """True when nothing may be downloaded now: offline by choice, or the hub did not answer recently."""
        return self.offline or not self.reachable()

    def reachable(self) -> bool:
        """The last probe's answer while it is fresh, else a new probe (callers arriving meanwhile wait for it)."""
        if self.offline:
            return False
        with self._lock:
            if self._reachable is None or self._clock() - self._checked_at > self._freshness():
                self._reachable = self._probe(self.endpoint, self._timeout_s)
                self._checked_at = self._clock()
                if not self._reachable:
                    log.warning("the Hugging Face hub (%s) does not answer; missing weights fail at once for the next "
                                "%.0f s instead of retrying (start with --offline to skip this check)",
                                self.endpoint, REMEMBER_FAILURE_S)
            return self._reachable

    def reason(self) -> str:
        """Why files cannot be downloaded now, as the end of a sentence."""
        return "this server is offline" if self.offline else f"the Hugging Face hub ({self.endpoint}) is not reachable"

    def probe_in_background(self) -> threading.Thread | None:
        """Probe at start-up, so the first user who needs the answer does not wait for it."""
        if self.offline:
            return None
        thread = threading.Thread(target=self.reachable, name="hub-probe", daemon=True)
        thread.start()
        return thread

    def _freshness(self) -> float:
        return REMEMBER_SUCCESS_S if self._reachable else REMEMBER_FAILURE_S
