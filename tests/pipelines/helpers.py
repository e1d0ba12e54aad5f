"""Helpers shared by the engine tests."""

from __future__ import annotations

import numpy as np
from PIL import Image

from pipelines.requests import ControlUnit, GenerationRequest


def make_request(image: Image.Image, conditions=("canny",), **overrides) -> GenerationRequest:
    units = tuple(ControlUnit(image=image, condition=c, module=c) for c in conditions)
    fields = dict(prompt="a red house on a hill", negative_prompt="blurry", units=units, steps=4,
                  cfg_scale=6.0, sampler="Euler", seed=42, width=64, height=64)
    fields.update(overrides)
    return GenerationRequest(**fields)


def pixel_diff(a: Image.Image, b: Image.Image) -> float:
    """Max absolute difference in [0, 1] units."""
    return float(np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).max()) / 255.0
