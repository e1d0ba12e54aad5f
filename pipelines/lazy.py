"""Load the engine in the background so the page is served at once, and say what is loading or missing."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from pipelines.engine import Engine
from pipelines.loading import ModelLoadError

log = logging.getLogger(__name__)


class EngineUnavailable(RuntimeError):
    """No engine to run on yet (still loading, or the model failed); the message says which and what to do."""


@dataclass(frozen=True)
class EngineState:
    """What the banner and the Models tab show."""

    model: str
    phase: str  # "loading" | "ready" | "failed"
    message: str = ""
    architecture: str = "sd15"  # the loaded model's (pipelines.architectures), SD1.5's until one is loaded


class LazyEngine:
    """The one engine object app.py builds: loads on a thread, can fall back to (or switch to) `tiny`."""

    def __init__(self, model: str, factory: Callable[[str], Engine], fallback: str | None = None):
        self._factory = factory
        self._fallback = fallback
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._engine: Engine | None = None
        self._state = EngineState(model, "loading", f"Loading {model}…")

    def start(self) -> threading.Thread:
        """Begin loading; returns the thread so tests and scripts can join it."""
        thread = threading.Thread(target=self._load, args=(self._state.model, self._fallback), name="engine-loader", daemon=True)
        thread.start()
        return thread

    def _load(self, model: str, fallback: str | None = None) -> None:
        try:
            engine = self._factory(model)
        except Exception as error:  # a missing or broken checkpoint must not take the app down
            if isinstance(error, ModelLoadError):
                log.error("%s", error)
                message = str(error)
            else:
                log.exception("loading %s failed", model)
                message = f"Could not load {model!r} ({type(error).__name__}). Try --model tiny."
            if fallback and fallback != model:
                self._load(fallback)
                with self._lock:
                    if self._state.phase == "ready":  # say why we are not on the model that was asked for
                        self._state = EngineState(fallback, "ready", message, self._state.architecture)
                return
            with self._lock:
                self._state = EngineState(model, "failed", message)
            self._ready.set()
            log.info("engine settled: %s failed", model)  # the log line that says background loading is over
            return
        with self._lock:
            self._engine = engine
            self._state = EngineState(model, "ready", "", engine.base.architecture.name)
        self._ready.set()
        log.info("engine settled: %s ready", model)

    def switch(self, model: str) -> None:
        """Replace the engine (e.g. the Models tab's "use the tiny model"); blocks until loaded."""
        log.info("switching the served model to %s", model)
        with self._lock:
            self._ready.clear()
            self._state = EngineState(model, "loading", f"Loading {model}…")
        self._load(model)

    @property
    def state(self) -> EngineState:
        with self._lock:
            return self._state

    def get(self, timeout: float | None = 600.0) -> Engine:
        """Wait for loading to finish; raise a sentence if it failed."""
        if not self._ready.wait(timeout):
            raise EngineUnavailable(f"The model {self.state.model!r} is still loading; try again in a moment.")
        with self._lock:
            if self._engine is None or self._state.phase != "ready":
                raise EngineUnavailable(self._state.message or "No model is loaded.")
            return self._engine
