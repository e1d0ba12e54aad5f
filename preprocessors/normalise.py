"""Bring any upload to the upright 8-bit RGB image every detector expects, and maps to one size rule."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps


def _grey_to_eight_bit(image: Image.Image) -> Image.Image:
    """Scale wide greyscale into 0..255 instead of clipping at 255 (which PIL's convert does)."""
    pixels = np.asarray(image, dtype=np.float64)
    low, high = (float(pixels.min()), float(pixels.max())) if pixels.size else (0.0, 0.0)
    if image.mode == "F":  # float: 0..1 or 0..255 as they are, anything else stretched over its range
        if low >= 0 and high <= 1:
            scaled = pixels * 255.0
        elif low >= 0 and high <= 255:
            scaled = pixels
        else:
            scaled = (pixels - low) / (high - low) * 255.0 if high > low else np.zeros_like(pixels)
    elif image.mode.startswith("I;16") or high > 255:  # 16-bit (or wider) integers: scale by the bit depth
        scaled = pixels / max(65535.0, high) * 255.0
    else:  # mode "I" holding 8-bit values (what PIL makes of an 8-bit image converted to "I")
        scaled = pixels
    return Image.fromarray(np.clip(np.round(scaled), 0, 255).astype(np.uint8))


def normalise_image(image: Image.Image) -> Image.Image:
    """First frame, EXIF orientation applied, alpha flattened on white, any mode to RGB."""
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        image = _grey_to_eight_bit(image)
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    return image.convert("RGB")


def short_side_size(size: tuple[int, int], resolution: int) -> tuple[int, int]:
    """(width, height) scaled so the short side is `resolution`, aspect kept: the size rule of every map."""
    width, height = size
    scale = resolution / min(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))
