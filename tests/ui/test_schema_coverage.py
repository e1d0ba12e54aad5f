"""Every field of the request schema reaches every surface: the infotext, the /generate API, the Generate tab's
controls and Send to Generate. A field added to `GenerationRequest` or `ControlUnit` and forgotten anywhere fails here."""

from __future__ import annotations

from dataclasses import replace

import gradio as gr
import pytest
from gradio_client import Client
from PIL import Image

from pipelines.controlnets import CONTROLNET_MODELS
from pipelines.infotext import build_infotext, request_from_infotext
from pipelines.limits import DEFAULT_LIMITS
from pipelines.requests import ControlUnit, GenerationRequest
from pipelines.schema import SchemaField, schema_fields
from ui.restore import restore, restore_targets

REQUEST_FIELDS = schema_fields(GenerationRequest)
UNIT_FIELDS = schema_fields(ControlUnit)
ALL_FIELDS = [pytest.param(GenerationRequest, item, id=item.name) for item in REQUEST_FIELDS] + [
    pytest.param(ControlUnit, item, id=f"unit.{item.name}") for item in UNIT_FIELDS]
MAP = Image.new("RGB", (64, 64))
# A field shown by another field's control: an edited map's preprocessor comes back as the unit's preprocessor (the
# edit itself is not in the PNG; the artist detects and edits again).
SHOWN_BY = {"edited_from": "module"}


def other_value(item: SchemaField):
    """A valid value that is not the field's default (so a surface that drops the field shows it)."""
    if item.kind == "flag":
        return not item.default
    if item.kind == "choice":
        return next(choice for choice in item.setting.choices if choice != item.default)
    if item.kind in ("integer", "number", "optional number"):
        low, high = item.bounds(DEFAULT_LIMITS)
        low = max(low, -10)  # thresholds are bounded only loosely; keep to values a slider shows
        high = min(high, low + 100)
        for fraction in (0.375, 0.625):
            value = low + (high - low) * fraction
            value = round(value) if item.kind == "integer" else value
            if value != item.default:
                return value
    return {"module": "lineart_standard", "family": "Line_Art", "model": "lllyasviel/control_v11p_sd15_lineart",
            "edited_from": "canny"}.get(
        item.name, "a painted fox, 夜")


def _with(cls: type, item: SchemaField) -> GenerationRequest:
    """A request with this one field changed (a unit field on its only unit; draft's own rules kept)."""
    unit = ControlUnit(image=MAP, module="lineart_standard", condition="lineart", family="Line_Art",
                       model=CONTROLNET_MODELS["lineart"])
    request = GenerationRequest(prompt="p", units=(unit,), sampler="LCM", cfg_scale=1.5, steps=4, seed=3)
    if cls is ControlUnit:
        return replace(request, units=(replace(unit, **{item.name: other_value(item)}),))
    return replace(request, **{item.name: other_value(item)})


@pytest.mark.parametrize(("cls", "item"), ALL_FIELDS)
def test_every_field_survives_the_infotext(cls, item):
    request = _with(cls, item)
    parsed = request_from_infotext(build_infotext(request, "tiny"), MAP)
    holder, parsed_holder = (request.units[0], parsed.units[0]) if cls is ControlUnit else (request, parsed)
    assert getattr(parsed_holder, item.name) == getattr(holder, item.name)


def test_every_field_is_a_parameter_of_the_generate_api(app):
    api = Client(app.url, verbose=False).view_api(print_info=False, return_format="dict")
    parameters = {p["parameter_name"]: p for p in api["named_endpoints"]["/generate"]["parameters"]}
    for item in (*REQUEST_FIELDS, *UNIT_FIELDS):
        assert item.name in parameters, f"/generate has no {item.name}"
        assert parameters[item.name]["parameter_default"] == item.default, item.name


@pytest.mark.parametrize(("cls", "item"), ALL_FIELDS)
def test_every_field_has_a_generate_control_that_send_to_generate_sets(generate_tab, cls, item):
    studio, tab = generate_tab
    controls = [tab.settings] if cls is GenerationRequest else tab.units
    name = SHOWN_BY.get(item.name, item.name)
    assert all(isinstance(getattr(c, name, None), gr.components.Component) for c in controls), item.name
    control = getattr(controls[0], name)
    assert control in restore_targets(tab)
    request = _with(cls, item)
    updates = restore(tab, studio, build_infotext(request, "tiny"))
    shown = updates[control]
    shown = shown.get("value") if isinstance(shown, dict) else shown
    value = getattr(request.units[0] if cls is ControlUnit else request, item.name)
    if item.name == "model":  # the textbox shows the id (blank would mean "this server's default")
        value = value if value != CONTROLNET_MODELS["lineart"] else ""
    assert shown == value, updates[tab.status]
