"""The engine's own loop must reproduce diffusers' ControlNet pipeline on the same components."""

from __future__ import annotations

import torch
from diffusers import PNDMScheduler, StableDiffusionControlNetPipeline
from diffusers.models.controlnets import MultiControlNetModel

from pipelines.samplers import build_scheduler
from tests.pipelines.helpers import make_request, pixel_diff, with_unit


def _reference(engine, request, maps, nets, guess_mode=False):
    base = engine.base
    pipe = StableDiffusionControlNetPipeline(
        vae=base.vae, text_encoder=base.text_encoder, tokenizer=base.tokenizer, unet=base.unet,
        controlnet=nets[0] if len(nets) == 1 else MultiControlNetModel(nets),
        scheduler=PNDMScheduler.from_config(base.scheduler_config), safety_checker=None,
        feature_extractor=None, requires_safety_checker=False,
    )
    pipe.scheduler = build_scheduler(request.sampler, base.scheduler_config)
    pipe.set_progress_bar_config(disable=True)
    units = request.units
    return pipe(
        prompt=request.prompt, negative_prompt=request.negative_prompt,
        image=maps[0] if len(maps) == 1 else maps,
        num_inference_steps=request.steps, guidance_scale=request.cfg_scale,
        width=request.width, height=request.height,
        generator=torch.Generator().manual_seed(request.seed),
        controlnet_conditioning_scale=units[0].weight if len(units) == 1 else [u.weight for u in units],
        control_guidance_start=[u.guidance_start for u in units],
        control_guidance_end=[u.guidance_end for u in units],
        guess_mode=guess_mode,
    ).images[0]


def test_single_unit_matches_diffusers_pipeline(engine, control_image):
    request = make_request(control_image, ("canny",), sampler="Euler a")
    ours = engine.generate(request)
    _, net = engine.controlnets.get("canny")
    theirs = _reference(engine, request, ours.maps, [net])
    assert ours.images[0].size == theirs.size == (64, 64)
    assert pixel_diff(ours.images[0], theirs) <= 1 / 255


def test_two_units_match_multi_controlnet(engine, control_image):
    from dataclasses import replace

    request = make_request(control_image, ("canny", "depth"), sampler="DPM++ 2M Karras")
    first, second = request.units
    request = replace(request, units=(replace(first, weight=0.7, guidance_end=0.6), replace(second, weight=1.3, guidance_start=0.25)))
    ours = engine.generate(request)
    nets = [engine.controlnets.get("canny")[1], engine.controlnets.get("depth")[1]]
    theirs = _reference(engine, request, ours.maps, nets)
    assert pixel_diff(ours.images[0], theirs) <= 1 / 255


def test_control_actually_steers_the_image(engine, control_image):
    request = make_request(control_image, ("canny",))
    with_control = engine.generate(request).images[0]
    without = engine.generate(with_unit(request, weight=0.0)).images[0]
    assert pixel_diff(with_control, without) > 2 / 255


def test_the_pooled_shuffle_controlnet_steers_only_the_prompts_half_as_diffusers_runs_it(engine, control_image):
    """Shuffle's v1.1 model has global_pool_conditions: diffusers then feeds it the conditional half only (guess mode
    without its soft scales) and the model averages its residuals over the picture; the engine matches that."""
    request = make_request(control_image, ("shuffle",), sampler="Euler a")
    ours = engine.generate(request)
    _, net = engine.controlnets.get("shuffle")
    assert net.config.global_pool_conditions
    assert pixel_diff(ours.images[0], _reference(engine, request, ours.maps, [net])) <= 1 / 255


def test_a_shuffle_unit_beside_a_canny_unit_and_in_a_matrix_batch(engine, control_image):
    """The pooled model's 1x1 residuals are spread over the picture when another unit (or another cell of the same
    UNet batch) brings full-size ones; each matrix cell equals its own generation."""
    from dataclasses import replace

    both = make_request(control_image, ("canny", "shuffle"), steps=3)
    assert engine.generate(both).images[0].size == (64, 64)
    cells = [replace(both, units=(unit,)) for unit in both.units]
    for cell, result in zip(cells, engine.matrix(cells)):
        assert pixel_diff(result.images[0], engine.generate(cell).images[0]) <= 1 / 255
