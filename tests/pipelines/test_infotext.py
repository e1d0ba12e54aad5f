"""Infotext: every setting survives build -> parse, A1111's own strings read right, and PNGs carry it."""

from __future__ import annotations

import datetime as dt
from dataclasses import fields, replace

import pytest
from PIL import Image

from pipelines.controlnets import CONTROLNET_MODELS
from pipelines.engine import Engine
from pipelines.infotext import build_infotext, parse_infotext, request_from_infotext
from pipelines.outputs import OutputWriter, with_parameters
from pipelines.requests import ControlUnit, GenerationRequest
from pipelines.samplers import SAMPLER_NAMES
from tests.pipelines.helpers import make_request

MAP = Image.new("RGB", (64, 64), (10, 20, 30))
CUSTOM_MODEL = 'C:/models/my depth, v2: "best".safetensors'
_WORDS = ['café', 'naïve', 'Ærøskøbing', '東京タワー', '夜景', '🚀', '🌸', 'a "quoted" word', 'ratio: 16:9', '(detailed:1.2)', "it's", 'x, y']
LONG_PROMPT = " ".join(_WORDS[i % len(_WORDS)] + f"{i}," for i in range(200))
NEGATIVE = 'lowres, bad anatomy, "text", watermark: none, 低品質 😞'


def _two_units() -> tuple[ControlUnit, ControlUnit]:
    first = ControlUnit(image=MAP, condition="canny", module="canny", weight=0.35, guidance_start=0.1, guidance_end=0.85,
                        control_mode="My prompt is more important", resize_mode="Resize and Fill", processor_res=768,
                        threshold_a=100.0, threshold_b=200.0, pixel_perfect=True)
    second = ControlUnit(image=MAP, condition="depth", module="depth_midas", model=CUSTOM_MODEL, weight=1.123456789,
                         guidance_start=0.0, guidance_end=0.6, control_mode="ControlNet is more important",
                         resize_mode="Just Resize", processor_res=384, threshold_a=0.4, threshold_b=None)
    return first, second


def _request(sampler: str) -> GenerationRequest:
    """As the engine records it: every unit's model is the one it loaded (here the v1.1 canny default and a file)."""
    first, second = _two_units()
    return GenerationRequest(prompt=LONG_PROMPT, negative_prompt=NEGATIVE, units=(replace(first, model=CONTROLNET_MODELS["canny"]), second),
                             steps=37, cfg_scale=7.123456789, sampler=sampler, seed=4_294_967_295, width=832, height=448, batch_size=3)


def _fields(request: GenerationRequest) -> dict:
    values = {f.name: getattr(request, f.name) for f in fields(request)}
    values["units"] = [{f.name: getattr(u, f.name) for f in fields(u) if f.name != "image"} for u in request.units]
    return values


@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
def test_round_trip_is_lossless_for_every_sampler(sampler):
    request = _request(sampler)
    text = build_infotext(request, "stable-diffusion-v1-5/stable-diffusion-v1-5")
    assert text.splitlines()[0].startswith("café0, naïve1,")
    back = request_from_infotext(text, MAP)
    assert _fields(back) == _fields(request)
    assert all(unit.image is MAP for unit in back.units)


def test_round_trip_keeps_draft_mode_and_the_default_model_short_name():
    request = replace(_request("LCM"), draft=True, steps=6, cfg_scale=1.5, batch_size=1, seed=9)
    text = build_infotext(request, "tiny")
    assert "Draft: True" in text and "Model: control_v11p_sd15_canny," in text and "Batch size" not in text
    back = request_from_infotext(text, MAP)
    assert _fields(back) == _fields(request)


def test_the_engine_writes_the_concrete_request_into_its_images(engine, control_image):
    request = make_request(control_image, ("canny", "lineart"), prompt="東京 at night, 🌃: \"neon\"", seed=99, steps=2)
    result = engine.generate(request)
    back = request_from_infotext(result.infotexts[0], control_image)
    assert _fields(back) == _fields(result.request)


A1111_INFOTEXT = (
    "masterpiece, best quality, a (red:1.2) house on a hill, <lora:detail:0.5>, café\n"
    "Negative prompt: lowres, bad anatomy, (worst quality:1.4)\n"
    "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 3141592653, Size: 512x768, "
    "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, VAE hash: 735e4c3a44, VAE: vae-ft-mse-840000-ema-pruned.safetensors, "
    "Clip skip: 2, "
    'ControlNet 0: "Module: canny, Model: control_v11p_sd15_canny [d14c016b], Weight: 0.85, Resize Mode: Crop and Resize, '
    "Processor Res: 512, Threshold A: 100.0, Threshold B: 200.0, Guidance Start: 0.0, Guidance End: 0.8, "
    'Pixel Perfect: False, Control Mode: My prompt is more important, Hr Option: Both", '
    'ControlNet 1: "Module: depth_midas, Model: control_v11f1p_sd15_depth [cfd03158], Weight: 1.0, Resize Mode: Resize and Fill, '
    "Processor Res: 384, Threshold A: 0.5, Threshold B: 0.5, Guidance Start: 0.1, Guidance End: 1.0, Pixel Perfect: True, "
    'Control Mode: ControlNet is more important, Hr Option: Both", Version: v1.10.1'
)


def test_a_genuine_a1111_infotext_reads_right():
    parsed = parse_infotext(A1111_INFOTEXT)
    assert parsed.params["Model hash"] == "6ce0161689" and parsed.params["Version"] == "v1.10.1"
    request = request_from_infotext(A1111_INFOTEXT)
    assert request.prompt == "masterpiece, best quality, a (red:1.2) house on a hill, <lora:detail:0.5>, café"
    assert request.negative_prompt == "lowres, bad anatomy, (worst quality:1.4)"
    assert (request.steps, request.sampler, request.cfg_scale, request.seed) == (28, "DPM++ 2M Karras", 6.5, 3141592653)
    assert (request.width, request.height, request.batch_size) == (512, 768, 1)
    canny, depth = request.units
    assert (canny.condition, canny.module, canny.model) == ("canny", "canny", CONTROLNET_MODELS["canny"])  # hash dropped
    assert (canny.weight, canny.guidance_start, canny.guidance_end) == (0.85, 0.0, 0.8)
    assert (canny.resize_mode, canny.control_mode, canny.pixel_perfect) == ("Crop and Resize", "My prompt is more important", False)
    assert (canny.processor_res, canny.threshold_a, canny.threshold_b) == (512, 100.0, 200.0)
    assert (depth.condition, depth.module, depth.model) == ("depth", "depth_midas", CONTROLNET_MODELS["depth"])
    assert (depth.weight, depth.guidance_start, depth.guidance_end, depth.pixel_perfect) == (1.0, 0.1, 1.0, True)
    assert (depth.resize_mode, depth.control_mode, depth.processor_res) == ("Resize and Fill", "ControlNet is more important", 384)
    assert all(unit.image.size == (512, 768) for unit in request.units)


def test_a1111_labels_without_a_condition_field_map_to_conditions():
    text = ('p\nSteps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 1, Size: 512x512, '
            'ControlNet 0: "Module: dw_openpose_full, Model: None, Weight: 1", '
            'ControlNet 1: "Module: lineart_anime_denoise, Model: control_v11p_sd15s2_lineart_anime [3825e83e], Weight: 1", '
            'ControlNet 2: "Module: normal_bae, Model: control_v11p_sd15_normalbae [316696f1], Weight: 1", '
            'ControlNet 3: "Module: canny, Model: my_canny_v2 [0123abcd], Weight: 1"')
    request = request_from_infotext(text)
    assert request.sampler == "Euler a" and request.negative_prompt == ""
    assert [(u.condition, u.model) for u in request.units] == [
        ("openpose", None), ("lineart_anime", CONTROLNET_MODELS["lineart_anime"]), ("normal", CONTROLNET_MODELS["normal"]),
        ("canny", "my_canny_v2")]


def test_saved_png_carries_the_parameters_chunk(tmp_path, control_image):
    request = make_request(control_image, prompt=LONG_PROMPT, negative_prompt=NEGATIVE, steps=2, seed=7)
    engine = Engine.load("tiny", device="cpu", outputs=tmp_path, taesd=False)
    result = engine.generate(request)
    day = tmp_path / dt.date.today().isoformat()
    saved = sorted(day.glob("*.png"))
    assert [p.name for p in saved] == ["00000-7.png"]
    with Image.open(saved[0]) as image:
        image.load()
        assert image.format == "PNG" and image.size == (64, 64)
        assert image.text["parameters"] == result.infotexts[0]
    assert "東京タワー" in result.infotexts[0] and "🚀" in result.infotexts[0]
    assert request_from_infotext(result.infotexts[0]).prompt == LONG_PROMPT


def test_output_writer_numbers_files_in_the_day_folder(tmp_path):
    writer = OutputWriter(tmp_path)
    first, _ = writer.save(with_parameters(Image.new("RGB", (8, 8)), "über: 1"), 5)
    second, _ = writer.save(with_parameters(Image.new("RGB", (8, 8)), "二"), 6)
    assert first.parent.name == second.parent.name == dt.date.today().isoformat()
    assert (first.name, second.name) == ("00000-5.png", "00001-6.png")
    with Image.open(second) as image:
        assert image.text["parameters"] == "二"
