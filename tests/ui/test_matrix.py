"""The XY matrix through the real server: every cell is the /generate call with its column's module and its row's
value, a combination column is a multi-unit generate, and bad matrices are refused before any work."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from pipelines.limits import DEFAULT_LIMITS
from pipelines.requests import ControlUnit, GenerationRequest
from studio.columns import parse_columns

COLUMNS = ["canny", "lineart_standard", "invert"]
JOB = dict(prompt="a house on a hill", steps=2, width=64, height=64, sampler="Euler")
# A CPU's convolution and matmul kernels sum in another order for a batch of 9 rows than for 1, so a batched cell
# may differ from its lone twin by one level of 255 in a few pixels (the same bound the condition matrix always had).
BATCH_TOLERANCE = 1


def _pixels(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize(("axis", "values", "parsed"), [
    ("weight", "0.4, 0.8, 1.2", (0.4, 0.8, 1.2)),
    ("seed", "3-5", (3, 4, 5)),
])
def test_every_cell_equals_the_generate_call_with_its_module_and_value(client, drawing_path, axis, values, parsed):
    items, captions, grid = client.predict(image=handle_file(drawing_path), modules=COLUMNS, y_axis=axis, y_values=values,
                                           seed=9, **JOB, api_name="/compare")
    assert captions[:3] == [f"{column} · map" for column in COLUMNS]
    assert len(items) == 3 + 3 * 3
    for row, value in enumerate(parsed):
        for number, module in enumerate(COLUMNS):
            index = 3 + row * 3 + number
            assert captions[index].startswith(f"{module} · {axis} = {value:g}")
            single, _, infotext = client.predict(image=handle_file(drawing_path), module=module, **{"seed": 9, **JOB, axis: value},
                                                 api_name="/generate")
            difference = np.abs(_pixels(items[index]) - _pixels(single[0])).max()
            assert difference <= BATCH_TOLERANCE, (module, value, difference)
            assert Image.open(items[index]).info["parameters"] == infotext  # the cell records exactly that request
    assert Image.open(grid).size[1] > 4 * 64  # maps row + three rows, under the captions


def test_a_combination_column_equals_a_two_unit_generate(tiny_studio, drawing_path):
    request = GenerationRequest(seed=4, **JOB)
    template = ControlUnit(image=drawing_path)
    matrix = tiny_studio.compare(request, template, ["canny + lineart_standard", "canny"], keep_copy=False)
    assert matrix.columns == ["canny + lineart_standard", "canny"]
    two_units = tuple(ControlUnit(image=drawing_path, module=module) for module in ("canny", "lineart_standard"))
    single = tiny_studio.generate(GenerationRequest(seed=4, units=two_units, **JOB), keep_copy=False)
    cell = matrix.cells[0]
    assert [unit.module for unit in cell.request.units] == ["canny", "lineart_standard"]
    assert cell.infotexts[0] == single.infotexts[0]
    difference = np.abs(np.asarray(cell.images[0], dtype=np.int16) - np.asarray(single.images[0], dtype=np.int16)).max()
    assert difference <= BATCH_TOLERANCE
    assert matrix.maps[0].width == 2 * matrix.maps[1].width  # the column's two maps side by side


@pytest.mark.parametrize(("columns", "axis", "values", "sentence"), [
    (["canny + nope"], "none", "", "Unknown preprocessor 'nope'"),
    (["canny+canny+canny+canny"], "none", "", "combines 4 conditions; use 1 to 3"),
    ([], "none", "", "Add at least one column"),
    (COLUMNS * 4, "seed", "1-4", "= 48 cells; this server allows 36"),
    (["canny"], "prompt_sr", "castle, tower", "Prompt S/R looks for 'castle'"),
    (["canny"], "weight", "0.5, 9", "The weight axis value '9' is refused"),
])
def test_bad_matrices_are_refused_with_a_sentence_before_any_work(client, drawing_path, columns, axis, values, sentence):
    with pytest.raises(Exception) as caught:
        client.predict(image=handle_file(drawing_path), modules=columns, y_axis=axis, y_values=values, **JOB,
                       api_name="/compare")
    assert sentence in str(caught.value)


def test_columns_are_checked_before_any_preprocessor_runs():
    with pytest.raises(ValueError, match="Unknown preprocessor"):
        parse_columns(["canny", "lineart_standard + typo"], DEFAULT_LIMITS)


def test_a_column_with_its_own_thresholds_equals_generate_with_them(client, drawing_path):
    own = {"module": "canny", "threshold_a": 30, "threshold_b": 90}
    items, captions, _ = client.predict(image=handle_file(drawing_path), modules=[own, "canny"], seed=6, **JOB,
                                        api_name="/compare")
    assert captions[:2] == ["canny (a 30, b 90) · map", "canny · map"]
    assert np.abs(_pixels(items[0]) - _pixels(items[1])).max() > 0  # the thresholds changed the map
    for index, thresholds in ((2, {"threshold_a": 30, "threshold_b": 90}), (3, {})):
        single, _, infotext = client.predict(image=handle_file(drawing_path), module="canny", seed=6, **JOB, **thresholds,
                                             api_name="/generate")
        assert Image.open(items[index]).info["parameters"] == infotext
        assert np.abs(_pixels(items[index]) - _pixels(single[0])).max() <= BATCH_TOLERANCE


def test_a_ready_map_column_equals_generate_with_that_map(client, drawing_path, tmp_path):
    ready = tmp_path / "depth-map.png"
    Image.open(drawing_path).convert("L").convert("RGB").save(ready)
    data = "data:image/png;base64," + base64.b64encode(ready.read_bytes()).decode()
    items, captions, _ = client.predict(image=handle_file(drawing_path), seed=2, **JOB, api_name="/compare",
                                        modules=[{"image": data, "condition": "depth"}, "canny"])
    assert captions[:2] == ["own map (depth) · map", "canny · map"]
    single, _, infotext = client.predict(image=handle_file(str(ready)), module="none", condition="depth", seed=2, **JOB,
                                         api_name="/generate")
    assert Image.open(items[2]).info["parameters"] == infotext
    assert np.abs(_pixels(items[2]) - _pixels(single[0])).max() <= BATCH_TOLERANCE


def test_a_column_whose_controlnet_cannot_load_says_so_and_the_rest_run(client, drawing_path, ui_models_dir):
    missing = str(ui_models_dir / "not-downloaded")
    items, captions, _ = client.predict(image=handle_file(drawing_path), seed=2, **JOB, api_name="/compare",
                                        modules=[{"module": "canny", "model": missing}, "canny"])
    assert captions[2].startswith(f"canny (model not-downloaded) · No ControlNet file or folder at {missing}")
    assert captions[3] == "canny · seed 2"


@pytest.mark.parametrize(("column", "sentence"), [
    ({"module": "canny", "threshold_z": 1}, "Column 1 has no setting 'threshold_z'"),
    ({"module": "canny", "processor_res": 99999}, "Column 1 processor_res must be between"),
    ({"module": "canny", "pixel_perfect": "yes"}, "Column 1 pixel_perfect must be true or false"),
    ({"image": "not base64!", "condition": "depth"}, "Column 1 image is not base64 of an image"),
    ({"image": {"path": "/etc/passwd"}, "condition": "depth"}, "Column 1 image must be a base64 PNG"),
    ({"module": "none"}, "say which condition it is for"),
    ([{"module": "canny"}, 7], "must list module names or settings objects"),
])
def test_bad_column_settings_are_refused_with_a_sentence(column, sentence):
    with pytest.raises(ValueError) as caught:
        parse_columns([column], DEFAULT_LIMITS)
    assert sentence in str(caught.value)
