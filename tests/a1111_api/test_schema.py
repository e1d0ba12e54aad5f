"""Every setting with an A1111 key in the schema reaches the request an A1111 payload becomes: a field added to
`GenerationRequest` or `ControlUnit` with an `a1111` key and forgotten by the routes fails here."""

from __future__ import annotations

import pytest

from a1111_api.controlnet import controlnet_models
from a1111_api.img2img import parse_img2img
from a1111_api.txt2img import PICTURE_WHENS, parse_txt2img
from pipelines.limits import DEFAULT_LIMITS
from pipelines.requests import ControlUnit, GenerationRequest
from pipelines.schema import schema_fields
from tests.a1111_api.conftest import drawing, png_b64
from tests.ui.test_schema_coverage import other_value

NAMED = [pytest.param(GenerationRequest, item, id=item.name) for item in schema_fields(GenerationRequest)
         if item.setting.a1111] + [pytest.param(ControlUnit, item, id=f"unit.{item.name}")
                                   for item in schema_fields(ControlUnit) if item.setting.a1111]


@pytest.mark.parametrize("cls, item", NAMED)
def test_each_a1111_key_sets_its_field(cls, item):
    """txt2img's keys through /txt2img (hires fix's with enable_hr on, as A1111 reads them only then); the keys of
    starting from a picture through /img2img, with a mask; coded choices sent as A1111's numbers."""
    value = other_value(item)
    sent = item.setting.choices.index(value) if item.setting.coded else value
    if item.setting.coded and len(item.setting.choices) == 2:
        sent = bool(sent)  # inpaint_full_res is a bool in A1111's API
    unit = {"image": png_b64(drawing()), "module": "canny"}
    payload = {"prompt": "p", "width": 64, "height": 64}
    if cls is ControlUnit:
        unit[item.setting.a1111] = value
    else:
        payload[item.setting.a1111] = sent
    payload["alwayson_scripts"] = {"controlnet": {"args": [unit]}}
    parse = parse_txt2img
    if item.setting.when in PICTURE_WHENS or item.name == "denoising_strength":
        parse = parse_img2img
        payload.update(init_images=[png_b64(drawing())], mask=png_b64(drawing()))
    elif item.setting.when == "enable_hr":
        payload["enable_hr"] = True
    parsed = parse(payload, controlnet_models({}), DEFAULT_LIMITS, lambda settings: None)
    target = parsed.request.units[0] if cls is ControlUnit else parsed.request
    assert getattr(target, item.name) == value


@pytest.mark.parametrize("sampler, scheduler, used", [
    ("DPM++ 2M", "karras", "DPM++ 2M Karras"),  # A1111 >= 1.9 sends the schedule apart
    ("DPM++ 2M Karras", "karras", "DPM++ 2M Karras"),
    ("DPM++ 2M Karras", "automatic", "DPM++ 2M Karras"),  # older clients: the schedule in the name
    ("Euler", None, "Euler"),
])
def test_sampler_and_schedule_become_one_of_our_samplers(sampler, scheduler, used):
    payload = {"prompt": "p", "width": 64, "height": 64, "sampler_name": sampler, "scheduler": scheduler}
    assert parse_txt2img(payload, {}, DEFAULT_LIMITS, lambda settings: None).request.sampler == used
