"""The tile and inpaint ControlNets: the inpaint model sees the picture with the mask's pixels marked (-1 for SD1.5's
v1.1 inpaint model, black for the SDXL union model's repaint type), the tile preprocessor coarsens the picture itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from pipelines.architectures import UNION_TYPES
from pipelines.engine import Engine
from preprocessors import Preprocessors
from tests.pipelines.helpers import make_request


@pytest.fixture(scope="module")
def picture() -> Image.Image:
    y, x = np.mgrid[0:64, 0:64]
    return Image.fromarray(np.stack([x * 4, y * 4, 128 + 0 * x], axis=-1).astype(np.uint8))


@pytest.fixture(scope="module")
def mask() -> Image.Image:
    image = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(image).rectangle((16, 24, 47, 39), fill=255)
    return image


def _seen(engine: Engine, request) -> list:
    """What the inpaint ControlNet is given as its condition, at each call."""
    _, net = engine.controlnets.get("inpaint")
    seen = []
    hook = net.register_forward_pre_hook(lambda module, args, kwargs: seen.append(kwargs["controlnet_cond"]),
                                         with_kwargs=True)
    try:
        engine.generate(request)
    finally:
        hook.remove()
    return seen


def test_the_sd15_inpaint_controlnet_sees_the_masked_pixels_as_minus_one(engine, picture, mask):
    request = make_request(picture, ("inpaint",), init_image=picture, mask=mask, mask_blur=0, denoising_strength=0.8)
    cond = _seen(engine, request)[0][0]  # (3, H, W), the uncond half's row
    inside = torch.from_numpy(np.asarray(mask) >= 128)
    assert (cond[:, inside] == -1).all()
    expected = torch.from_numpy(np.asarray(picture, dtype=np.float32) / 255).permute(2, 0, 1)
    assert torch.allclose(cond[:, ~inside], expected[:, ~inside], atol=1e-6)  # the rest is the picture in [0, 1]


def test_without_a_mask_the_inpaint_controlnet_sees_the_picture(engine, picture):
    cond = _seen(engine, make_request(picture, ("inpaint",), init_image=picture, denoising_strength=0.8))[0][0]
    assert cond.min() >= 0


def test_the_union_model_gets_the_repaint_type_and_black_masked_pixels(picture, mask):
    engine = Engine.load("tiny-sdxl", device="cpu", taesd=False)
    request = make_request(picture, ("inpaint",), init_image=picture, mask=mask, mask_blur=0, denoising_strength=0.8)
    _, union = engine.controlnets.get("inpaint")
    seen = []
    hook = union.register_forward_pre_hook(lambda module, args, kwargs: seen.append(kwargs), with_kwargs=True)
    try:
        result = engine.generate(request)
    finally:
        hook.remove()
    assert seen[0]["control_type_idx"] == [UNION_TYPES["inpaint"]] == [7]
    cond = seen[0]["controlnet_cond"][0][0]
    assert (cond[:, torch.from_numpy(np.asarray(mask) >= 128)] == 0).all()
    assert "Union Control Type: repaint" in result.infotexts[0]


def test_tile_resample_keeps_the_size_and_removes_fine_detail():
    rng = np.random.default_rng(3)
    noisy = Image.fromarray(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8))
    runner = Preprocessors()
    same = runner.run("tile_resample", noisy, processor_res=128, threshold_a=1.0)
    coarse = runner.run("tile_resample", noisy, processor_res=128, threshold_a=4.0)
    assert same.size == coarse.size == (128, 128)
    assert np.array_equal(np.asarray(same), np.asarray(noisy))  # below 1.1 the picture is left as it is

    def detail(image: Image.Image) -> float:  # mean absolute difference of neighbours: high for fine detail
        pixels = np.asarray(image, dtype=np.float32)
        return float(np.abs(np.diff(pixels, axis=1)).mean())

    assert detail(coarse) < detail(same) / 3
