"""Fit a condition map to the output size as A1111's resize modes do, and the soft-injection scales."""

from __future__ import annotations

import numpy as np
from PIL import Image

SOFT_INJECTION_BASE = 0.825


def _resample(scale: float) -> Image.Resampling:
    return Image.Resampling.LANCZOS if scale > 1 else Image.Resampling.BOX


def fit_map(image: Image.Image, width: int, height: int, resize_mode: str) -> Image.Image:
    """Return the map at exactly width x height.

    Just Resize stretches; Crop and Resize scales to cover then centre-crops; Resize and Fill scales to
    fit inside then pads with the median colour of the map's border, so the padding reads as background.
    """
    image = image.convert("RGB")
    if image.size == (width, height):
        return image
    if resize_mode == "Just Resize":
        return image.resize((width, height), _resample(max(width / image.width, height / image.height)))
    cover = resize_mode == "Crop and Resize"
    scale = (max if cover else min)(width / image.width, height / image.height)
    new_size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    resized = image.resize(new_size, _resample(scale))
    if cover:
        left, top = (new_size[0] - width) // 2, (new_size[1] - height) // 2
        return resized.crop((left, top, left + width, top + height))
    pixels = np.asarray(image)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    fill = tuple(int(v) for v in np.median(border, axis=0))
    canvas = Image.new("RGB", (width, height), fill)
    canvas.paste(resized, ((width - new_size[0]) // 2, (height - new_size[1]) // 2))
    return canvas


def soft_injection_scales(count: int) -> list[float]:
    """Per-residual weights for the non-balanced modes: deepest block 1.0, each shallower one x0.825.

    With SD1.5's 13 residuals (12 skips + middle) the shallowest gets 0.825**12 ~= 0.1, the same
    ladder ControlNet 1.1's "guess mode" and A1111's soft injection use.
    """
    return [SOFT_INJECTION_BASE ** float(count - 1 - index) for index in range(count)]
