"""The Generate tab's small parts: an enabled unit without an image is refused, the ControlNet dropdown's choices come
from the registry and the models folders, selection shows its own image's infotext, and user errors log one line."""

from __future__ import annotations

import logging

import pytest

from pipelines.architectures import KNOWN_CONTROLNETS, SDXL_UNION
from pipelines.controlnets import CONTROLNET_MODELS
from pipelines.lazy import EngineUnavailable
from pipelines.requests import RequestError
from preprocessors import PreprocessorError
from studio.controlnet_choices import controlnet_choices
from ui.errors import explain
from ui.generate_results import Shown
from ui.generate_tab import enabled_units
from ui.map_editor import MapEdit


def test_an_enabled_unit_without_an_image_is_refused_by_number(generate_tab, drawing_path):
    _, tab = generate_tab
    data = {}
    for index, unit in enumerate(tab.units):
        data.update({component: component.value for component in unit.inputs()})
        data[unit.edited_from] = MapEdit()  # gradio makes one per visitor from the State's class
        data[unit.enabled] = index in (0, 2)
        data[unit.image] = drawing_path if index == 0 else None
    with pytest.raises(RequestError, match="ControlNet unit 2 is enabled but has no control image"):
        enabled_units(tab.units, data)
    data[tab.units[2].enabled] = False
    assert [number for number, _ in enabled_units(tab.units, data)] == [0]


def test_controlnet_choices_are_blank_the_defaults_the_operators_and_the_folders_files(tmp_path):
    (tmp_path / "mine.safetensors").write_bytes(b"")
    (tmp_path / "folder-net").mkdir()
    (tmp_path / "folder-net" / "config.json").write_text("{}")
    (tmp_path / "folder-net" / "diffusion_pytorch_model.safetensors").write_bytes(b"")  # part of the folder, not listed
    (tmp_path / "notes.txt").write_text("")
    choices = controlnet_choices([tmp_path], {"canny": "someone/better-canny"})
    known = len(KNOWN_CONTROLNETS)
    assert choices[0] == "" and choices[1:known + 1] == list(KNOWN_CONTROLNETS)
    assert set(CONTROLNET_MODELS.values()) | {SDXL_UNION, "TheMistoAI/MistoLine"} <= set(KNOWN_CONTROLNETS)
    assert choices[known + 1:] == ["someone/better-canny", str(tmp_path / "folder-net"), str(tmp_path / "mine.safetensors")]


def test_selection_shows_that_images_infotext():
    shown = Shown(infotexts=["Seed: 1", "Seed: 2"])
    assert [shown.infotext(i) for i in (0, 1, None, 9)] == ["Seed: 1", "Seed: 2", "Seed: 1", "Seed: 1"]
    assert Shown().infotext(0) == ""


@pytest.mark.parametrize("error", [RequestError("bad value"), PreprocessorError("missing weights; fetch them"),
                                   EngineUnavailable("still loading")])
def test_a_user_error_is_one_log_line_without_traceback(caplog, error):
    with caplog.at_level(logging.INFO, logger="ui.errors"):
        title, text = explain(error)
    assert text == str(error)
    [record] = caplog.records
    assert record.exc_info is None and record.levelno == logging.INFO


def test_a_real_fault_keeps_its_traceback_and_tells_the_user_nothing_internal(caplog):
    with caplog.at_level(logging.INFO, logger="ui.errors"):
        _, text = explain(KeyError("internal detail"))
    assert "internal detail" not in text and caplog.records[0].exc_info is not None


def test_the_stopped_sentence_says_where_and_what_was_kept():
    from PIL import Image

    from ui.generate_results import stopped_line

    kept = Shown(images=[(Image.new("RGB", (8, 8)), "seed 1")] * 2)
    assert stopped_line("Batch 2 of 3, step 7/20", kept) == ("Stopped at batch 2 of 3, step 7/20. The 2 finished images are "
                                                             "kept. Press Generate to start again.")
    assert stopped_line("Step 4/150 (preview)", Shown()) == "Stopped at step 4/150. Nothing was kept. Press Generate to start again."
    assert stopped_line("", None) == "Stopped. Nothing was kept. Press Generate to start again."
