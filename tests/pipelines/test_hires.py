"""Hires fix: a first pass, an upscale (latent or picture), a second img2img pass at the larger size, in the engine's
one loop; the size, reproducibility by seed, the steps it runs, and sd-webui-controlnet's per-unit passes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pipelines.requests import RequestError
from tests.pipelines.helpers import make_request, pixel_diff, with_unit


def _hires(control_image, **changes):
    settings = dict(steps=3, enable_hr=True, hr_scale=2.0, denoising_strength=0.7)
    return make_request(control_image, ("canny",), **{**settings, **changes})


@pytest.mark.parametrize("upscaler", ["Latent", "Latent (bicubic antialiased)", "Lanczos"])
def test_hires_output_has_the_upscaled_size_and_reproduces_by_seed(engine, control_image, upscaler):
    request = _hires(control_image, hr_upscaler=upscaler)
    first = engine.generate(request)
    assert first.images[0].size == (128, 128)
    assert pixel_diff(first.images[0], engine.generate(request).images[0]) == 0
    assert "Hires upscale: 2, Hires upscaler: " + upscaler in first.infotexts[0]
    assert "Denoising strength: 0.7" in first.infotexts[0]


def test_the_second_pass_runs_int_steps_times_strength_after_the_first(engine, control_image):
    request = _hires(control_image, steps=4, hr_second_pass_steps=10, denoising_strength=0.5)
    updates = []
    engine.generate(request, on_step=updates.append)
    assert [update.step for update in updates] == list(range(1, 4 + 5 + 1))
    assert {update.total for update in updates} == {9}


def test_hires_resize_of_one_side_keeps_the_aspect(engine, control_image):
    request = _hires(control_image, width=96, height=64, hr_resize_x=144)
    assert engine.generate(request).images[0].size == (144, 96)


def test_each_units_hires_option_picks_its_passes(engine, control_image):
    both = engine.generate(_hires(control_image)).images[0]
    low = engine.generate(with_unit(_hires(control_image), hr_option="Low res only")).images[0]
    high = engine.generate(with_unit(_hires(control_image), hr_option="High res only")).images[0]
    assert min(pixel_diff(both, low), pixel_diff(both, high), pixel_diff(low, high)) > 0
    assert "Hr Option: Low res only" in engine.generate(with_unit(_hires(control_image), hr_option="Low res only")).infotexts[0]


def test_batch_row_i_equals_seed_plus_i_alone(engine, control_image):
    request = _hires(control_image, batch_size=2, sampler="Euler a")
    batch = engine.generate(request)
    alone = engine.generate(replace(request, batch_size=1, seed=request.seed + 1))
    assert pixel_diff(batch.images[1], alone.images[0]) <= 1 / 255


def test_hires_past_the_largest_side_and_on_img2img_is_refused(engine, control_image):
    with pytest.raises(RequestError, match="Hires fix would make 4096x4096"):
        engine.generate(_hires(control_image, width=1024, height=1024, hr_scale=4.0))
    with pytest.raises(RequestError, match="Hires fix is for text-to-image"):
        engine.generate(_hires(control_image, init_image=control_image))
