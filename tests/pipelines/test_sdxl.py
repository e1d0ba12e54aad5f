"""SDXL in the engine: `tiny-sdxl` reproduces diffusers' SDXL ControlNet pipelines on the same components (the union
ProMax model with one and two units, a single-condition SDXL ControlNet), and each condition reaches the union model
as its own control type."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from diffusers import (
    EulerDiscreteScheduler,
    StableDiffusionXLControlNetPipeline,
    StableDiffusionXLControlNetUnionPipeline,
)
from diffusers.models.controlnets import MultiControlNetUnionModel

from pipelines.architectures import SDXL, UNION_TYPES
from pipelines.engine import Engine
from pipelines.samplers import build_scheduler
from pipelines.tiny_sdxl import build_single_controlnet
from tests.pipelines.helpers import make_request, pixel_diff


@pytest.fixture(scope="module")
def xl_engine() -> Engine:
    return Engine.load("tiny-sdxl", device="cpu", taesd=False)


def _parts(engine: Engine) -> dict:
    base = engine.base
    return dict(vae=base.vae, text_encoder=base.text_encoder, text_encoder_2=base.text_encoder_2, tokenizer=base.tokenizer,
                tokenizer_2=base.tokenizer_2, unet=base.unet,
                scheduler=EulerDiscreteScheduler.from_config(base.scheduler_config))


def _call(pipe, engine: Engine, request, **control) -> torch.Tensor:
    pipe.scheduler = build_scheduler(request.sampler, engine.base.scheduler_config)
    pipe.set_progress_bar_config(disable=True)
    units = request.units
    return pipe(
        prompt=request.prompt, negative_prompt=request.negative_prompt or None,  # None: SDXL's zeroed negative
        num_inference_steps=request.steps, guidance_scale=request.cfg_scale, width=request.width, height=request.height,
        generator=torch.Generator().manual_seed(request.seed),
        controlnet_conditioning_scale=units[0].weight if len(units) == 1 else [u.weight for u in units],
        control_guidance_start=[u.guidance_start for u in units], control_guidance_end=[u.guidance_end for u in units],
        **control,
    ).images[0]


def _union_reference(engine: Engine, request, maps):
    _, union = engine.controlnets.get("canny")
    nets = union if len(maps) == 1 else MultiControlNetUnionModel([union] * len(maps))
    pipe = StableDiffusionXLControlNetUnionPipeline(**_parts(engine), controlnet=nets)
    types = [UNION_TYPES[unit.condition] for unit in request.units]
    if len(maps) == 1:
        return _call(pipe, engine, request, control_image=[maps[0]], control_mode=types)
    return _call(pipe, engine, request, control_image=maps, control_mode=types)


def test_the_default_controlnet_for_every_condition_is_the_union_model(xl_engine):
    assert xl_engine.base.architecture is SDXL
    nets = {id(xl_engine.controlnets.get(condition)[1]) for condition in UNION_TYPES}
    assert len(nets) == 1, "every condition should share the one union model"


def test_one_union_unit_matches_diffusers_union_pipeline(xl_engine, control_image):
    request = make_request(control_image, ("canny",), width=64, height=64)
    ours = xl_engine.generate(request, save=False)
    theirs = _union_reference(xl_engine, request, ours.maps)
    assert ours.images[0].size == theirs.size == (64, 64)
    assert pixel_diff(ours.images[0], theirs) <= 1 / 255


def test_two_union_units_match_diffusers_multi_union_pipeline(xl_engine, control_image):
    request = make_request(control_image, ("depth", "openpose"), sampler="DPM++ 2M Karras", negative_prompt="")
    first, second = request.units
    request = replace(request, units=(replace(first, weight=0.7, guidance_end=0.6),
                                      replace(second, weight=1.3, guidance_start=0.25)))
    ours = xl_engine.generate(request, save=False)
    assert pixel_diff(ours.images[0], _union_reference(xl_engine, request, ours.maps)) <= 1 / 255


def test_a_single_condition_sdxl_controlnet_matches_diffusers_sdxl_pipeline(xl_engine, control_image):
    net = build_single_controlnet()
    xl_engine.controlnets._nets["test/single-canny-sdxl"] = net  # as if loaded: the store keys nets by model id
    request = make_request(control_image, ("canny",), sampler="Euler a")
    request = replace(request, units=(replace(request.units[0], model="test/single-canny-sdxl", weight=0.8),))
    ours = xl_engine.generate(request, save=False)
    pipe = StableDiffusionXLControlNetPipeline(**_parts(xl_engine), controlnet=net)
    theirs = _call(pipe, xl_engine, request, image=ours.maps[0])
    assert pixel_diff(ours.images[0], theirs) <= 1 / 255


@pytest.mark.parametrize("condition", sorted(UNION_TYPES))
def test_each_condition_reaches_the_union_model_as_its_control_type(xl_engine, control_image, condition):
    """The one-hot control type goes through the union model's control_type_proj; a hook there reads what arrived."""
    _, union = xl_engine.controlnets.get(condition)
    seen: list[set[int]] = []
    hook = union.control_type_proj.register_forward_hook(
        lambda module, inputs, output: seen.append(set(inputs[0].view(-1, union.config.num_control_type)
                                                       .argmax(dim=1).tolist())))
    try:
        xl_engine.generate(make_request(control_image, (condition,), steps=2), save=False)
    finally:
        hook.remove()
    assert seen and all(types == {UNION_TYPES[condition]} for types in seen), seen


def test_control_types_steer_the_union_model_differently(xl_engine, control_image):
    canny = xl_engine.generate(make_request(control_image, ("canny",)), save=False).images[0]
    depth = xl_engine.generate(make_request(control_image, ("depth",)), save=False).images[0]
    assert pixel_diff(canny, depth) > 2 / 255


def test_the_same_request_twice_gives_the_same_pixels(xl_engine, control_image):
    request = make_request(control_image, ("canny", "depth"), seed=7)
    first, second = (xl_engine.generate(request, save=False).images[0] for _ in range(2))
    assert pixel_diff(first, second) == 0


def test_compare_of_six_conditions_on_one_union_model_equals_six_single_generations(xl_engine, control_image):
    conditions = ("canny", "lineart", "softedge", "openpose", "depth", "normal")
    request = make_request(control_image, units=(), seed=321, steps=3, sampler="DPM++ 2M")
    cells = xl_engine.compare(request, list(make_request(control_image, conditions).units), save=False)
    singles = [xl_engine.generate(make_request(control_image, (c,), seed=321, steps=3, sampler="DPM++ 2M"), save=False)
               for c in conditions]
    assert [cell.request.units[0].condition for cell in cells] == list(conditions)
    for cell, single in zip(cells, singles):
        assert pixel_diff(cell.images[0], single.images[0]) <= 1 / 255
    assert pixel_diff(cells[0].images[0], cells[4].images[0]) > 2 / 255  # the control types really differ


def test_the_infotext_names_sdxl_and_each_union_type_and_reproduces_the_image(xl_engine, control_image):
    from pipelines.infotext import parse_infotext, request_from_infotext

    result = xl_engine.generate(make_request(control_image, ("canny", "openpose"), seed=11, steps=3), save=False)
    parsed = parse_infotext(result.infotexts[0])
    assert parsed.params["Architecture"] == "SDXL" and parsed.params["Model"] == "tiny-sdxl"
    assert [unit["Union Control Type"] for unit in parsed.units] == ["canny/lineart/anime_lineart/mlsd", "openpose"]
    assert [unit["Model"] for unit in parsed.units] == ["controlnet-union-sdxl-1.0"] * 2  # the default's short name
    again = request_from_infotext(result.infotexts[0], result.maps[0])
    again = replace(again, units=tuple(replace(unit, image=picture) for unit, picture in zip(again.units, result.maps)))
    assert pixel_diff(xl_engine.generate(again, save=False).images[0], result.images[0]) == 0


def test_two_single_condition_sdxl_controlnets_match_diffusers_multi_controlnet(xl_engine, control_image):
    from diffusers.models.controlnets import MultiControlNetModel

    nets = {"test/canny-sdxl": build_single_controlnet(12), "test/depth-sdxl": build_single_controlnet(13)}
    xl_engine.controlnets._nets.update(nets)
    request = make_request(control_image, ("canny", "depth"), sampler="Euler a")
    first, second = request.units
    request = replace(request, units=(replace(first, model="test/canny-sdxl", weight=0.6, guidance_end=0.5),
                                      replace(second, model="test/depth-sdxl", weight=1.2, guidance_start=0.25)))
    ours = xl_engine.generate(request, save=False)
    pipe = StableDiffusionXLControlNetPipeline(**_parts(xl_engine), controlnet=MultiControlNetModel(list(nets.values())))
    assert pixel_diff(ours.images[0], _call(pipe, xl_engine, request, image=ours.maps)) <= 1 / 255


def test_controlnet_is_more_important_steers_sdxl_differently_from_balanced(xl_engine, control_image):
    request = make_request(control_image, ("canny",))
    balanced = xl_engine.generate(request, save=False).images[0]
    strong = xl_engine.generate(replace(request, units=(replace(request.units[0], control_mode="ControlNet is more important"),)),
                                save=False).images[0]
    assert pixel_diff(balanced, strong) > 2 / 255


def test_a_long_prompt_keeps_every_token_in_75_token_chunks_on_both_encoders(xl_engine):
    from pipelines.prompts import CHUNK, encode_prompts

    base = xl_engine.base
    long = "a lighthouse on a cliff at dusk, " * 4  # one token per character with tiny-sdxl's byte vocabulary
    tokens = len(base.tokenizer(long, add_special_tokens=False).input_ids)
    embeds = encode_prompts(base, long, "")
    chunks = -(-tokens // CHUNK)
    width = base.text_encoder.config.hidden_size + base.text_encoder_2.config.hidden_size
    assert chunks == 2 and embeds.cond.shape == (1, chunks * (CHUNK + 2), width) == embeds.uncond.shape
    assert torch.count_nonzero(embeds.uncond) == 0  # an empty negative prompt is zeros, as A1111 and diffusers do
    ids = base.tokenizer_2(long, add_special_tokens=False).input_ids[:CHUNK]  # the first chunk, as CLIP's 77 positions
    window = torch.tensor([[base.tokenizer_2.bos_token_id, *ids, base.tokenizer_2.eos_token_id]])
    with torch.no_grad():
        assert torch.equal(embeds.pooled, base.text_encoder_2(window)[0])  # the pooled text is the first chunk's
    empty_window = encode_prompts(base, "", "").cond
    assert not torch.equal(embeds.cond[:, CHUNK + 2:], empty_window)  # the tokens past 75 are encoded, not dropped
