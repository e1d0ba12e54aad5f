"""Bring any upload to the upright 8-bit RGB image every detector expects."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps


def _sixteen_bit_to_eight(image: Image.Image) -> Image.Image:
    """Scale 16-bit / 32-bit greyscale by its range instead of clipping at 255 (which PIL's convert does)."""
    pixels = np.asarray(image, dtype=np.float64)
    low, high = float(pixels.min()), float(pixels.max())
    if image.mode.startswith("I;16") or (image.mode == "I" and high > 255):
        top = 65535.0 if high <= 65535 else high
        scaled = pixels / top * 255.0
    elif image.mode == "F":
        scaled = (pixels - low) / (high - low) * 255.0 if high > low else np.zeros_like(pixels)
    else:
        scaled = pixels
    return Image.fromarray(np.clip(np.round(scaled), 0, 255).astype(np.uint8), mode="L")


def normalise_image(image: Image.Image) -> Image.Image:
    """First frame, EXIF orientation applied, alpha flattened on white, any mode to RGB."""
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        image = _sixteen_bit_to_eight(image)
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    return image.convert("RGB")
