"""Stop, previews, the NaN sentence and CPU offload work the same in img2img, inpaint and hires fix as in txt2img: they
live in the one loop and the one decode, which every mode goes through."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from pipelines.denoise import GenerationError
from pipelines.engine import CancelToken, Engine, JobCancelled
from tests.pipelines.helpers import make_request, pixel_diff

MASK = Image.fromarray(np.pad(np.full((24, 24), 255, np.uint8), 20))


def _modes(control_image) -> dict:
    base = make_request(control_image, ("canny",), steps=8, sampler="Euler a")
    return {
        "img2img": replace(base, init_image=control_image.resize((64, 64)), denoising_strength=0.9),
        "inpaint": replace(base, init_image=control_image.resize((64, 64)), mask=MASK, denoising_strength=0.9),
        "hires fix": replace(base, enable_hr=True, hr_scale=1.5, denoising_strength=0.6),
    }


@pytest.mark.parametrize("mode", ["img2img", "inpaint", "hires fix"])
def test_stop_ends_the_job_within_a_step_in_every_mode(engine, control_image, mode):
    token, steps = CancelToken(), []

    def on_step(update):
        steps.append(update.step)
        if update.step == 2:
            token.cancel()

    with pytest.raises(JobCancelled):
        engine.generate(_modes(control_image)[mode], on_step=on_step, cancel=token)
    assert 2 <= len(steps) <= 3 and not engine._lock.locked()


@pytest.fixture(scope="module")
def previewing() -> Engine:
    return Engine.load("tiny", device="cpu", taesd=False, preview_every=2)


@pytest.fixture(scope="module")
def offloaded() -> Engine:
    return Engine.load("tiny", device="cpu", cpu_offload=True)


@pytest.mark.parametrize("mode", ["img2img", "inpaint", "hires fix"])
def test_previews_arrive_in_every_mode(previewing, control_image, mode):
    previews = []
    previewing.generate(_modes(control_image)[mode], on_step=lambda update: update.previews and previews.append(update))
    assert previews and all(update.step < update.total for update in previews)


@pytest.mark.parametrize("mode", ["img2img", "inpaint", "hires fix"])
def test_nan_latents_are_a_sentence_in_every_mode(engine, control_image, mode, monkeypatch):
    unet = engine.base.unet
    original = unet.forward
    monkeypatch.setattr(unet, "forward", lambda *args, **kwargs: (torch.full_like(original(*args, **kwargs)[0], float("nan")),))
    with pytest.raises(GenerationError, match="invalid values"):
        engine.generate(_modes(control_image)[mode])


@pytest.mark.parametrize("mode", ["inpaint", "hires fix"])
def test_cpu_offload_changes_no_pixel_in_every_mode(engine, offloaded, control_image, mode):
    request = _modes(control_image)[mode]
    assert pixel_diff(engine.generate(request).images[0], offloaded.generate(request).images[0]) == 0
