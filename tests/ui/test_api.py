"""The named endpoints through gradio_client against the real app (tiny model, offline)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from ui.api import _Files


def test_preprocess_returns_an_edge_map(client, drawing_path):
    path, poses = client.predict(handle_file(drawing_path), module="canny", processor_res=192, api_name="/preprocess")
    assert poses is None  # people are found by OpenPose modules only
    edges = np.asarray(Image.open(path).convert("L"))
    assert edges.shape == (192, 256)
    assert set(np.unique(edges)) <= {0, 255} and (edges == 255).mean() > 0.005


def test_generate_returns_pngs_with_infotext_and_the_map(client, drawing_path):
    images, used_map, infotext = client.predict(
        prompt="a house", image=handle_file(drawing_path), module="canny", steps=3, seed=123,
        width=96, height=64, batch_size=2, sampler="DPM++ 2M Karras", api_name="/generate")
    assert len(images) == 2
    first = Image.open(images[0])
    assert first.format == "PNG" and first.size == (96, 64)
    assert first.info["parameters"].splitlines()[-1].startswith("Steps: 3, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 123")
    assert "Seed: 124" in Image.open(images[1]).info["parameters"]
    assert Image.open(used_map).size == (96, 64)
    assert 'ControlNet 0: "Module: canny' in infotext


def test_the_infotext_records_the_thresholds_used_when_defaults_were_asked_for(client, drawing_path):
    """Before: `Threshold A: , Threshold B: ` when the preprocessor's defaults were used, so the PNG did not say which
    thresholds made it. Now the numbers used are written (canny's 100 and 200), as A1111 does, and read back."""
    from preprocessors import get_spec

    spec = get_spec("canny")
    _, _, infotext = client.predict(prompt="a house", image=handle_file(drawing_path), module="canny", steps=2, seed=5,
                                    width=64, height=64, api_name="/generate")
    _, fields = client.predict(handle_file(_write(infotext)), api_name="/png_info")
    assert fields["units"][0]["Threshold A"] == f"{spec.threshold_a.default:g}"
    assert fields["units"][0]["Threshold B"] == f"{spec.threshold_b.default:g}"


def _write(infotext: str) -> str:
    """A PNG carrying `infotext`, as our results do."""
    import tempfile

    from pipelines.outputs import png_info

    path = tempfile.NamedTemporaryFile(suffix=".png", delete=False).name
    Image.new("RGB", (8, 8)).save(path, pnginfo=png_info(infotext))
    return path


def test_generate_is_reproducible_by_seed(client, drawing_path):
    kwargs = dict(prompt="a house", image=handle_file(drawing_path), module="canny", steps=3, seed=99, width=64, height=64,
                  api_name="/generate")
    first = np.asarray(Image.open(client.predict(**kwargs)[0][0]))
    second = np.asarray(Image.open(client.predict(**kwargs)[0][0]))
    assert np.array_equal(first, second)


def test_compare_returns_map_and_result_per_condition_and_a_grid(client, drawing_path):
    modules = ["canny", "lineart_standard", "invert"]
    items, captions, grid = client.predict(prompt="a house", image=handle_file(drawing_path), modules=modules, seed=5,
                                           steps=2, width=64, height=64, api_name="/compare")
    assert captions == ["canny · map", "lineart_standard · map", "invert · map",  # row-major: the maps' row first
                        "canny · seed 5", "lineart_standard · seed 5", "invert · seed 5"]
    assert len(items) == 6
    grid_image = Image.open(grid)
    assert grid_image.width == 3 * 64 and grid_image.height > 2 * 64


def test_png_info_reads_our_parameters(client, drawing_path):
    images, _, infotext = client.predict(prompt="ünïcode ☕ prompt", image=handle_file(drawing_path), module="canny", steps=2,
                                         seed=11, width=64, height=64, api_name="/generate")
    text, fields = client.predict(handle_file(images[0]), api_name="/png_info")
    assert text == infotext
    assert fields["prompt"] == "ünïcode ☕ prompt" and fields["Seed"] == "11" and fields["units"][0]["Module"] == "canny"


def test_bad_input_is_a_sentence_and_the_server_keeps_serving(client, drawing_path):
    with pytest.raises(Exception) as caught:
        client.predict(prompt="x", image=handle_file(drawing_path), width=513, api_name="/generate")
    assert "width must be a multiple of 8" in str(caught.value)
    assert "Traceback" not in str(caught.value)
    path, _ = client.predict(handle_file(drawing_path), module="canny", processor_res=64, api_name="/preprocess")
    assert Image.open(path).size[1] == 64


def test_api_files_older_than_an_hour_are_pruned_and_metadata_kept():

    files = _Files()
    image = Image.new("RGB", (8, 8))
    image.info["parameters"] = "a house\nSteps: 3"
    old = files.save(image, "old")["path"]
    stale = time.time() - files.scratch.KEEP_S - 60
    os.utime(os.path.dirname(old), (stale, stale))  # each file sits in its own random folder
    recent = files.save(image, "recent")["path"]
    assert not os.path.exists(old) and not os.path.exists(os.path.dirname(old))
    assert Image.open(recent).info["parameters"] == "a house\nSteps: 3"


def test_preprocess_returns_the_people_for_openpose_modules(client, drawing_path):
    """The pose JSON a pose editor imports, on the canvas of the map it came with."""
    path, poses = client.predict(handle_file(drawing_path), module="openpose_full", processor_res=128, api_name="/preprocess")
    assert (poses["canvas_width"], poses["canvas_height"]) == Image.open(path).size
    assert isinstance(poses["people"], list)
    assert all(len(person["pose_keypoints_2d"]) == 54 for person in poses["people"])
