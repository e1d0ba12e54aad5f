"""The two weight-free maps no maintained library offers as a seedable call, written here.

XDoG scribble: thick strokes where the picture has edges (the difference of a fine and a coarse Gaussian blur, as
sd-webui-controlnet's scribble_xdog; controlnet-aux does not ship it). Content shuffle: the picture remapped through a
smooth random flow, so its colours stay and its structure goes; controlnet-aux's ContentShuffleDetector draws from
numpy's global RNG, which threads share in a server, so the same seed could not give the same shuffle; this one draws
from its own generator.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from preprocessors.normalise import short_side_size


def xdog_scribble(image: Image.Image, resolution: int, threshold: float) -> Image.Image:
    """White strokes on black where the fine blur is darker than the coarse one by more than threshold / 2."""
    import cv2

    pixels = np.asarray(image.convert("RGB").resize(short_side_size(image.size, resolution)), dtype=np.float32)
    fine = cv2.GaussianBlur(pixels, (0, 0), 0.5)
    coarse = cv2.GaussianBlur(pixels, (0, 0), 5.0)
    darker = (coarse - fine).max(axis=2)  # how much darker than its surroundings each pixel is, in its darkest channel
    strokes = np.where(2 * darker > threshold, 255, 0).astype(np.uint8)
    return Image.fromarray(strokes).convert("RGB")


def _smooth_noise(rng: np.random.Generator, height: int, width: int, scale: int) -> np.ndarray:
    """Uniform noise on a coarse grid, upsampled with cubic interpolation and stretched to [0, 1]."""
    import cv2

    coarse = rng.uniform(0, 1, (height // scale + 2, width // scale + 2)).astype(np.float32)
    fine = cv2.resize(coarse, (width + 2 * scale, height + 2 * scale), interpolation=cv2.INTER_CUBIC)
    fine = fine[scale:scale + height, scale:scale + width]
    fine -= fine.min()
    return fine / max(float(fine.max()), 1e-6)


def content_shuffle(image: Image.Image, resolution: int, seed: int, scale: int = 256) -> Image.Image:
    """Every pixel taken from a random, smoothly varying place in the picture (the shuffle ControlNet's input)."""
    import cv2

    pixels = np.asarray(image.convert("RGB").resize(short_side_size(image.size, resolution)))
    height, width = pixels.shape[:2]
    rng = np.random.default_rng(int(seed))
    flow = np.stack([_smooth_noise(rng, height, width, scale) * (width - 1),
                     _smooth_noise(rng, height, width, scale) * (height - 1)], axis=2).astype(np.float32)
    return Image.fromarray(cv2.remap(pixels, flow, None, cv2.INTER_LINEAR))
