"""The one place where failures become `gr.Error` sentences; nothing else reaches the browser."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import gradio as gr

from pipelines.cancel import JobTimedOut
from pipelines.denoise import JobCancelled
from pipelines.engine import GenerationError
from pipelines.lazy import EngineUnavailable
from pipelines.loading import ModelLoadError
from pipelines.requests import RequestError
from preprocessors import PreprocessorError
from serving import ServerBusy
from studio import UploadError

log = logging.getLogger(__name__)


USER_ERRORS = (RequestError, PreprocessorError, ModelLoadError, GenerationError, EngineUnavailable, UploadError, ServerBusy)


def sentence(text: str, title: str = "Error") -> gr.Error:
    """A gr.Error for something the user can act on: shown to them, one log line at most, never a traceback."""
    return gr.Error(text, title=title, print_exception=False)


def explain(error: Exception) -> tuple[str, str]:
    """(title, sentence) for a failure: a user's mistake logs one line, a real fault its traceback."""
    if isinstance(error, JobTimedOut):
        return "Time limit", str(error)
    if isinstance(error, JobCancelled):
        return "Stopped", "Stopped. Press Generate to start again."
    if isinstance(error, USER_ERRORS):
        log.info("refused: %s", error)
        return "Error", str(error)
    if isinstance(error, MemoryError):
        log.warning("out of memory in a job")
        return "Error", "The server ran out of memory; try a smaller size or batch."
    log.error("unexpected failure in a job", exc_info=error)
    return "Error", "Something went wrong on the server; the error was logged. Please try again."


@contextmanager
def user_errors() -> Iterator[None]:
    """Show known failures as their sentence, unknown ones as a generic sentence (details go to the log)."""
    try:
        yield
    except gr.Error:
        raise
    except Exception as error:
        title, text = explain(error)
        raise sentence(text, title=title) from None
