"""The map editor's parts without a browser: when a unit uses the artist's edit, what the studio and the infotext make of
an edited map, and the brush palette each kind of map gets."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pipelines.infotext import build_infotext, parse_infotext, request_from_infotext
from pipelines.requests import ControlUnit, GenerationRequest, RequestError
from preprocessors import PreprocessorError
from ui.map_editor import GREYS, LINE_COLOURS, MapEdit, flattened, palette


def _edge_map() -> Image.Image:
    picture = Image.new("RGB", (64, 48))
    ImageDraw.Draw(picture).line((4, 10, 60, 10), fill="white")
    return picture


def _unit_data(tab, drawing_path, edit: MapEdit, editor_value, own_map: bool = False) -> tuple:
    unit = tab.units[0]
    data = {component: component.value for component in unit.inputs()}
    data.update({unit.image: drawing_path, unit.own_map: own_map, unit.edited_from: edit, unit.editor: editor_value,
                 unit.module: "canny", unit.condition: "canny" if own_map else "auto"})
    return unit, data


def test_an_unedited_map_runs_the_preprocessor_and_a_painted_one_is_the_map(generate_tab, drawing_path):
    _, tab = generate_tab
    detected = _edge_map()
    edit = MapEdit()
    edit.load(detected, "canny")
    unit, data = _unit_data(tab, drawing_path, edit, {"background": detected, "layers": [], "composite": None})
    plain = unit.read(data)
    assert (plain.module, plain.edited_from, plain.image) == ("canny", "", drawing_path)

    edit.touched = True  # the editor's change event after a stroke
    stroke = Image.new("RGBA", detected.size)
    ImageDraw.Draw(stroke).line((4, 30, 60, 30), fill="white", width=3)
    painted = unit.read({**data, unit.editor: {"background": detected, "layers": [stroke], "composite": None}})
    assert (painted.module, painted.edited_from, painted.threshold_a) == ("none", "canny", None)
    pixels = np.asarray(painted.image)
    assert pixels[30, 30].tolist() == [255, 255, 255] and pixels[10, 30].tolist() == [255, 255, 255]

    edit.note = "The canny map, 64x48."
    said = edit.mark({"background": detected, "layers": [], "composite": None})  # an undo back to the detected map
    assert said == "The canny map, 64x48." and not edit.touched and unit.read({**data, unit.editor: {"background": detected, "layers": [stroke]}}).module == "canny"
    said = edit.mark({"background": detected, "layers": [stroke], "composite": None})  # strokes read after a reset are stale
    assert edit.touched and said == "The canny map, 64x48. **Edited by hand.**"

    own = unit.read({**_unit_data(tab, drawing_path, edit, {"background": detected, "layers": [stroke],
                                                           "composite": None}, own_map=True)[1]})
    assert (own.module, own.edited_from, own.condition) == ("none", "canny", "canny")


def test_an_empty_editor_is_no_map_and_a_composite_wins_over_the_background():
    assert flattened(None) is None and flattened({"background": None, "layers": [], "composite": None}) is None
    assert flattened({"composite": Image.new("RGBA", (8, 8))}) is None  # a blank, transparent canvas
    drawn = Image.new("RGBA", (8, 8), "red")
    assert np.asarray(flattened({"background": Image.new("RGB", (8, 8)), "composite": drawn}))[0, 0].tolist() == [255, 0, 0]


def test_the_studio_reads_an_edited_map_as_its_preprocessors_condition(tiny_studio):
    built = tiny_studio.build_unit(ControlUnit(image=_edge_map(), module="none", edited_from="depth_midas"), 64, 48)
    assert (built.condition, built.module, built.edited_from) == ("depth", "none", "depth_midas")
    with pytest.raises(RequestError, match="module none"):
        tiny_studio.build_unit(ControlUnit(image=_edge_map(), module="canny", edited_from="canny"), 64, 48)
    with pytest.raises(PreprocessorError, match="Unknown preprocessor"):
        tiny_studio.build_unit(ControlUnit(image=_edge_map(), module="none", edited_from="photoshop"), 64, 48)


def test_the_infotext_says_the_map_was_edited_and_reads_back():
    unit = ControlUnit(image=_edge_map(), module="none", condition="canny", edited_from="canny")
    text = build_infotext(GenerationRequest(prompt="p", units=(unit,), seed=1), "tiny")
    assert "Module: none" in text and "Edited from: canny" in text
    assert parse_infotext(text).units[0]["Edited from"] == "canny"
    assert request_from_infotext(text).units[0].edited_from == "canny"
    plain = build_infotext(GenerationRequest(prompt="p", units=(ControlUnit(image=None, module="canny", condition="canny"),),
                                             seed=1), "tiny")
    assert "Edited from" not in plain  # A1111's own infotext shape when nothing was edited


def test_each_kind_of_map_gets_its_own_palette():
    assert palette("canny", None).colors == list(LINE_COLOURS) and palette("lineart", None).color_mode == "fixed"
    assert palette("depth", None).colors == list(GREYS)
    normal = Image.new("RGB", (40, 10), (128, 128, 255))
    normal.paste((200, 100, 180), (0, 0, 10, 10))
    assert palette("normal", normal).colors == ["#8080ff", "#c864b4"]  # its own colours, most common first
    seg = Image.new("RGB", (40, 10), (120, 120, 120))  # ADE20K's wall, and a strip of its sky
    seg.paste((6, 230, 230), (0, 0, 4, 10))
    seg.paste((7, 230, 230), (4, 0, 6, 10))  # one level off sky: kept as it is, not merged
    assert palette("seg", seg).colors == ["#787878", "#06e6e6", "#07e6e6"]  # a seg map's own colours, exactly


def test_the_upload_and_every_map_setting_are_one_listener_the_browser_runs_in_turn(generate_tab):
    """Two listeners ran at once and the later-starting one won on the server, so a resolution typed during the
    upload's preview could lose to the upload's map (seen in CI); one always_last listener runs them in turn."""
    import gradio as gr

    from pipelines.limits import DEFAULT_LIMITS
    from ui.generate_tab import build_generate_tab

    studio, _ = generate_tab
    with gr.Blocks() as demo:
        tab = build_generate_tab(studio, DEFAULT_LIMITS)
    for unit in tab.units:
        wanted = {(unit.image._id, "change"), (unit.processor_res._id, "input"), (unit.threshold_a._id, "input"),
                  (unit.threshold_b._id, "input"), (unit.own_map._id, "input"), (unit.condition._id, "input")}
        listeners = [fn for fn in demo.fns.values() if wanted & set(fn.targets)]
        assert len(listeners) == 1 and wanted <= set(listeners[0].targets), [fn.targets for fn in listeners]
        assert listeners[0].trigger_mode == "always_last"
