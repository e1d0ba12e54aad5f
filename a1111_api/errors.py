"""How a refusal reaches an A1111 client: an HTTP status and JSON with one sentence (and the field it is about)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pipelines.cancel import JobTimedOut
from pipelines.denoise import GenerationError
from pipelines.lazy import EngineUnavailable
from pipelines.loading import ModelLoadError
from pipelines.requests import RequestError
from preprocessors import PreprocessorError
from serving import ServerBusy
from studio import UploadError


class ApiError(Exception):
    """A request this server will not run: the status, a sentence that says what to do, and the field it names."""

    def __init__(self, status: int, sentence: str, field: str | None = None):
        super().__init__(sentence)
        self.status, self.sentence, self.field = status, sentence, field

    def body(self) -> dict[str, object]:
        # `error` and `detail` as A1111 writes them, so clients that print either show the sentence
        return {"error": "Refused" if self.status < 500 else "Failed", "detail": self.sentence, "field": self.field}


def refuse(field: str, sentence: str) -> ApiError:
    """A value we cannot honour: HTTP 422 naming the field."""
    return ApiError(422, sentence, field)


@contextmanager
def api_errors() -> Iterator[None]:
    """The studio's and the engine's sentences, as HTTP answers: the caller's fault 4xx, the server's 5xx."""
    try:
        yield
    except (RequestError, PreprocessorError, UploadError) as error:
        raise ApiError(422, str(error)) from None
    except ModelLoadError as error:
        raise ApiError(422, str(error)) from None
    except (ServerBusy, EngineUnavailable) as error:
        raise ApiError(503, str(error)) from None
    except JobTimedOut as error:
        raise ApiError(504, str(error)) from None
    except GenerationError as error:
        raise ApiError(500, str(error)) from None
