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


@contextmanager
def user_errors() -> Iterator[None]:
    """Show known failures as their sentence, unknown ones as a generic sentence (details go to the log)."""
    try:
        yield
    except gr.Error:
        raise
    except JobTimedOut as error:
        raise sentence(str(error), title="Time limit") from None
    except JobCancelled:
        raise sentence("Stopped. Press Generate to start again.", title="Stopped") from None
    except USER_ERRORS as error:
        log.info("refused: %s", error)  # a user's mistake: one line, no traceback
        raise sentence(str(error)) from None
    except MemoryError:
        raise sentence("The server ran out of memory; try a smaller size or batch.") from None
    except Exception:
        log.exception("unexpected failure in a job")
        raise gr.Error("Something went wrong on the server; the error was logged. Please try again.") from None
