"""Helpers shared by the engine tests."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from PIL import Image

from pipelines.requests import ControlUnit, GenerationRequest


def make_request(image: Image.Image, conditions=("canny",), **overrides) -> GenerationRequest:
    units = tuple(ControlUnit(image=image, condition=c, module=c) for c in conditions)
    fields = dict(prompt="a red house on a hill", negative_prompt="blurry", units=units, steps=4,
                  cfg_scale=6.0, sampler="Euler", seed=42, width=64, height=64)
    fields.update(overrides)
    return GenerationRequest(**fields)


def with_unit(request: GenerationRequest, **changes) -> GenerationRequest:
    """The request with its first (only) unit changed."""
    return replace(request, units=(replace(request.units[0], **changes),))


def pixel_diff(a: Image.Image, b: Image.Image) -> float:
    """Max absolute difference in [0, 1] units."""
    return float(np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).max()) / 255.0


def nan_unless_float32(vae, always: bool = False):
    """The fp16/bf16 VAE failure: decode gives NaN in reduced precision (or everywhere, when `always`).
    Returns the patched decode and the list of dtypes it was called in."""
    original = vae.decode
    calls: list[torch.dtype] = []

    def decode(latents, *args, **kwargs):
        calls.append(vae.dtype)
        pixels = original(latents, *args, **kwargs)[0]
        if always or vae.dtype != torch.float32:
            pixels = torch.full_like(pixels, float("nan"))
        return (pixels,)

    return decode, calls


def fail_once(original, error: BaseException, on_call: int = 1):
    """`original`, raising `error` on its `on_call`-th call only (a transient fault); returns it and its call log."""
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == on_call:
            raise error
        return original(*args, **kwargs)

    return wrapper, calls
