"""Send to Generate says, in the Generate tab's status line, each setting this server could not take from a PNG."""

from __future__ import annotations

from pipelines.infotext import build_infotext
from pipelines.requests import ControlUnit, GenerationRequest
from ui.restore import restore
from ui.widgets import REQUEST_FIELDS

MAP = None  # maps are not in the text


def _infotext(unit: ControlUnit, **request) -> str:
    return build_infotext(GenerationRequest(prompt="a fox", units=(unit,), seed=5, **request), "tiny")


def test_a_controlnet_this_server_lacks_is_named_and_left_blank(generate_tab, ui_models_dir):
    studio, tab = generate_tab
    missing = str(ui_models_dir / "not-here")
    outside = "/elsewhere/my_canny.safetensors"
    text = _infotext(ControlUnit(image=MAP, module="canny", condition="canny", model=missing))
    updates = restore(tab, studio, text)
    assert updates[tab.units[0].model] == ""
    assert f"ControlNet {missing} is not on this server" in updates[tab.status]
    text = _infotext(ControlUnit(image=MAP, module="canny", condition="canny", model=outside))
    updates = restore(tab, studio, text)
    assert updates[tab.units[0].model] == "" and "outside the model folders" in updates[tab.status]
    present = str(ui_models_dir / "my-canny")
    updates = restore(tab, studio, _infotext(ControlUnit(image=MAP, module="canny", condition="canny", model=present)))
    assert updates[tab.units[0].model] == present and "Not restored" not in updates[tab.status]


def test_values_outside_this_servers_limits_and_unknown_names_are_named_and_kept(generate_tab):
    studio, tab = generate_tab
    text = _infotext(ControlUnit(image=MAP, module="depth_leres", condition="depth", weight=9.0), steps=9999, width=96)
    updates = restore(tab, studio, text)
    status = updates[tab.status]
    assert "steps must be between 1 and" in status and "ControlNet unit 0 weight must be between 0 and" in status
    assert "preprocessor 'depth_leres' does not exist here" in status
    assert tab.settings.steps not in updates and tab.units[0].weight not in updates and tab.units[0].module not in updates
    assert updates[tab.settings.width] == 96  # everything else still comes back
    assert {getattr(tab.settings, item.name) for item in REQUEST_FIELDS} - {tab.settings.steps} <= set(updates)


def test_units_the_png_does_not_use_are_switched_off(generate_tab):
    studio, tab = generate_tab
    updates = restore(tab, studio, _infotext(ControlUnit(image=MAP, module="canny", condition="canny")))
    assert [updates[unit.enabled] for unit in tab.units] == [True] + [False] * (len(tab.units) - 1)
