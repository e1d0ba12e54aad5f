"""A1111's control modes and resize modes, checked on the images and on the arithmetic itself.

"ControlNet is more important" is not compared with diffusers' guess_mode pipeline: diffusers' ladder is
logspace(-1, 0, N+1) over however many residuals the model has, ours is 0.825**(N-1-k). The two agree
within 0.1 % for SD1.5's 13 residuals (checked below) but not for the tiny model's 7
(0.1 vs 0.315 at the shallowest), so an image comparison on the tiny model would fail for the wrong
reason. Instead the residuals reaching the UNet are captured and checked against the formula.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from pipelines.control_maps import fit_map, soft_injection_scales
from pipelines.engine import Engine
from pipelines.requests import CONTROL_MODES, RESIZE_MODES
from tests.pipelines.helpers import make_request, pixel_diff, with_unit

WEIGHT = 0.7


def test_the_three_control_modes_give_three_images(engine, control_image):
    request = make_request(control_image, steps=3, seed=8)
    images = [engine.generate(with_unit(request, control_mode=mode, weight=WEIGHT)).images[0] for mode in CONTROL_MODES]
    for i in range(3):
        for j in range(i + 1, 3):
            assert pixel_diff(images[i], images[j]) > 2 / 255, (CONTROL_MODES[i], CONTROL_MODES[j])


def test_soft_injection_ladder_is_a1111s_and_matches_diffusers_guess_mode_for_sd15():
    scales = soft_injection_scales(13)
    assert scales == [0.825 ** (12 - k) for k in range(13)]
    assert scales[-1] == 1.0 and scales[0] == pytest.approx(0.0994, abs=1e-4)
    assert all(a < b for a, b in zip(scales, scales[1:]))
    diffusers_ladder = torch.logspace(-1, 0, 13, dtype=torch.float64).tolist()  # ControlNetModel.forward, guess_mode
    assert max(abs(a - b) for a, b in zip(scales, diffusers_ladder)) < 1e-3
    assert soft_injection_scales(7) == [0.825 ** (6 - k) for k in range(7)]


def _capture(engine: Engine, net: torch.nn.Module, request) -> dict[str, list]:
    """Run one request with hooks that record the ControlNet's outputs and the UNet's residual inputs."""
    seen: dict[str, list] = {"net": [], "unet": []}

    def on_net(module, args, kwargs, out):
        seen["net"].append([*out[0], out[1]])

    def on_unet(module, args, kwargs, out):
        seen["unet"].append([*kwargs["down_block_additional_residuals"], kwargs["mid_block_additional_residual"]])

    hooks = [net.register_forward_hook(on_net, with_kwargs=True), engine.base.unet.register_forward_hook(on_unet, with_kwargs=True)]
    try:
        engine.generate(request)
    finally:
        for hook in hooks:
            hook.remove()
    return seen


@pytest.fixture(scope="module")
def captured(control_image):
    """For each mode: the ControlNet's raw outputs and the residuals the UNet received, at the first step."""
    engine = Engine.load("tiny", device="cpu", taesd=False)
    _, net = engine.controlnets.get("canny")
    results = {}
    for mode in CONTROL_MODES:
        seen = _capture(engine, net, with_unit(make_request(control_image, steps=2, seed=3), control_mode=mode, weight=WEIGHT))
        assert len(seen["net"]) == len(seen["unet"]) == 2
        results[mode] = (seen["net"][0], seen["unet"][0])
    return results


def test_balanced_feeds_weighted_residuals_to_both_branches(captured):
    net_out, unet_in = captured["Balanced"]
    assert len(unet_in) == 7
    for raw, received in zip(net_out, unet_in):
        assert raw.shape[0] == 2  # uncond + cond rows went through the ControlNet
        assert torch.equal(received, raw)  # the weight was applied inside the ControlNet (conditioning_scale)
        assert received[0].abs().max() > 0 and received[1].abs().max() > 0


def test_prompt_more_important_scales_both_branches_by_the_ladder(captured):
    net_out, unet_in = captured["My prompt is more important"]
    ladder = soft_injection_scales(len(unet_in))
    for level, (raw, received) in enumerate(zip(net_out, unet_in)):
        assert raw.shape[0] == 2
        torch.testing.assert_close(received, raw * WEIGHT * ladder[level])
        assert received[0].abs().max() > 0


def test_controlnet_more_important_leaves_the_unconditional_branch_at_zero(captured):
    net_out, unet_in = captured["ControlNet is more important"]
    ladder = soft_injection_scales(len(unet_in))
    for level, (raw, received) in enumerate(zip(net_out, unet_in)):
        assert raw.shape[0] == 1  # only the conditional row went through the ControlNet
        assert torch.count_nonzero(received[0]) == 0
        torch.testing.assert_close(received[1:], raw * WEIGHT * ladder[level])
        assert received[1].abs().max() > 0
    balanced_cond = captured["Balanced"][1][-1][1]
    torch.testing.assert_close(unet_in[-1][1], balanced_cond)  # the deepest level is not damped


# -- resize modes ----------------------------------------------------------------------------------------------
WIDE = (200, 100)
TALL = (100, 200)
TARGETS = [(64, 64), (96, 64), (64, 96), (128, 40)]


def _picture(size: tuple[int, int]) -> Image.Image:
    """White with a red centre square, green first third and blue last third along the long side."""
    width, height = size
    pixels = np.full((height, width, 3), 255, dtype=np.uint8)
    if width >= height:
        pixels[:, : width // 4] = (0, 255, 0)
        pixels[:, width - width // 4:] = (0, 0, 255)
    else:
        pixels[: height // 4] = (0, 255, 0)
        pixels[height - height // 4:] = (0, 0, 255)
    cy, cx = height // 2, width // 2
    pixels[cy - 10: cy + 10, cx - 10: cx + 10] = (255, 0, 0)
    return Image.fromarray(pixels)


@pytest.mark.parametrize("source", [WIDE, TALL], ids=["wide", "tall"])
@pytest.mark.parametrize("mode", RESIZE_MODES)
@pytest.mark.parametrize("target", TARGETS, ids=[f"{w}x{h}" for w, h in TARGETS])
def test_fit_map_size_is_exact(source, mode, target):
    fitted = fit_map(_picture(source), *target, mode)
    assert fitted.size == target and fitted.mode == "RGB"


@pytest.mark.parametrize("source", [WIDE, TALL], ids=["wide", "tall"])
def test_crop_and_resize_keeps_the_centre(source):
    fitted = np.asarray(fit_map(_picture(source), 64, 64, "Crop and Resize")).astype(int)
    assert tuple(fitted[32, 32]) == (255, 0, 0)
    # the long side's outer quarters (green, blue) are cut away; what remains near the edges is white
    for y, x in ((1, 1), (1, 62), (62, 1), (62, 62)):
        assert (fitted[y, x] > 200).all(), (y, x, fitted[y, x])


@pytest.mark.parametrize("source", [WIDE, TALL], ids=["wide", "tall"])
def test_just_resize_stretches_everything_in(source):
    fitted = np.asarray(fit_map(_picture(source), 64, 64, "Just Resize")).astype(int)
    assert tuple(fitted[32, 32]) == (255, 0, 0)
    assert tuple(fitted[0, 0]) == (0, 255, 0) and tuple(fitted[63, 63]) == (0, 0, 255)


def test_resize_and_fill_pads_with_the_border_colour():
    frame = (30, 60, 90)
    tall = np.zeros((200, 100, 3), dtype=np.uint8)
    tall[...] = frame
    tall[4:-4, 4:-4] = np.random.default_rng(0).integers(120, 255, size=(192, 92, 3))
    fitted = np.asarray(fit_map(Image.fromarray(tall), 64, 64, "Resize and Fill"))
    # scaled to 32x64 and centred: columns 0-15 and 48-63 are padding
    assert (fitted[:, :16] == frame).all() and (fitted[:, 48:] == frame).all()
    assert (fitted[:, 20:44].astype(int).sum(axis=2) > 3 * 110).mean() > 0.9  # the picture itself, not padding
    wide = np.ascontiguousarray(tall.transpose(1, 0, 2))
    fitted = np.asarray(fit_map(Image.fromarray(wide), 64, 64, "Resize and Fill"))
    assert (fitted[:16] == frame).all() and (fitted[48:] == frame).all()
