"""Open an upload safely: size checked from the header before any pixel is decoded, then normalised."""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from preprocessors import normalise_image


class UploadError(ValueError):
    """An upload we cannot use; the message tells the user what to send instead."""


MAX_PIXELS = 40_000_000  # 40 MP: far above any useful control image, far below a decompression bomb


def _path_of(value: object) -> str | None:
    if isinstance(value, (str, Path)):
        return str(value)
    if isinstance(value, dict):
        return value.get("path")
    return getattr(value, "path", None)


def open_upload(value: object, max_pixels: int = MAX_PIXELS) -> Image.Image | None:
    """Return an RGB image, None for no upload, or raise UploadError with what to do."""
    if value is None:
        return None
    if isinstance(value, Image.Image):
        image = value
    else:
        path = _path_of(value)
        if not path:
            raise UploadError("The upload could not be read; send a PNG, JPEG or WebP image.")
        try:
            image = Image.open(path)  # reads the header only
        except Image.DecompressionBombError:  # PIL refuses absurd headers (decompression bombs) before decoding
            raise UploadError(f"The image is over the {max_pixels // 1_000_000} megapixel limit; scale it down first.") from None
        except (UnidentifiedImageError, OSError, ValueError):
            raise UploadError("That file is not an image we can read; upload a PNG, JPEG or WebP picture.") from None
    width, height = image.size
    if width * height > max_pixels:
        raise UploadError(
            f"The image is {width}x{height} pixels, over the {max_pixels // 1_000_000} megapixel limit; scale it down first."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
            return normalise_image(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise UploadError("The image file is damaged or truncated; export it again and re-upload.") from None
