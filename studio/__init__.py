"""The service layer every surface shares (the browser UI, the gradio API, the A1111-compatible routes): uploads ->
preprocessors -> backend. It knows no web framework."""

from studio.service import Studio
from studio.uploads import UploadError

__all__ = ["Studio", "UploadError"]
