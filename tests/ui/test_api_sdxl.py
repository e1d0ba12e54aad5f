"""`python app.py --model tiny-sdxl` over the named API: a Canny, a depth_midas and an OpenPose unit each generate at
128² on the union model, the same request gives the same pixels, and /png_info's parameters sent back to /generate
give the image again."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from pipelines.architectures import UNION_TYPE_NAMES, UNION_TYPES
from pipelines.infotext import parse_infotext, request_from_infotext
from pipelines.requests import ControlUnit, GenerationRequest
from tests.server import start_app

MODULES = {"canny": "canny", "depth_midas": "depth", "openpose": "openpose"}


@pytest.fixture(scope="module")
def xl_client(tmp_path_factory, annotators_ready):
    running = start_app(tmp_path_factory.mktemp("xl-app"), model="tiny-sdxl")
    yield Client(running.url, verbose=False)
    running.stop()


def _pixels(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _generate(client: Client, **values) -> tuple[list[str], str]:
    images, _, infotext = client.predict(**values, api_name="/generate")
    return [item["image"] if isinstance(item, dict) else item for item in images], infotext


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_unit_generates_on_the_union_model_and_repeats_exactly(xl_client, drawing_path, module):
    request = dict(prompt="a lighthouse at dusk", image=handle_file(drawing_path), module=module, steps=2, seed=17,
                   width=128, height=128, processor_res=128)
    first, infotext = _generate(xl_client, **request)
    again, _ = _generate(xl_client, **request)
    assert Image.open(first[0]).size == (128, 128)
    assert np.array_equal(_pixels(first[0]), _pixels(again[0]))
    parsed = parse_infotext(infotext)
    assert parsed.params["Architecture"] == "SDXL" and parsed.params["Model"] == "tiny-sdxl"
    unit = parsed.units[0]
    assert unit["Condition"] == MODULES[module]
    assert unit["Union Control Type"] == UNION_TYPE_NAMES[UNION_TYPES[MODULES[module]]]


def test_png_info_sent_back_to_generate_gives_the_same_image(xl_client, drawing_path):
    images, _ = _generate(xl_client, prompt="a lighthouse", negative_prompt="fog", image=handle_file(drawing_path),
                          module="depth_midas", weight=0.8, steps=3, seed=5, width=128, height=96, processor_res=128,
                          sampler="DPM++ 2M Karras")
    text, _ = xl_client.predict(handle_file(images[0]), api_name="/png_info")
    read = request_from_infotext(text)  # what a client does with the parameters /png_info gives back
    values = {f.name: getattr(read, f.name) for f in fields(GenerationRequest) if f.name != "units"}
    values |= {f.name: getattr(read.units[0], f.name) for f in fields(ControlUnit) if f.name != "image"}
    again, _ = _generate(xl_client, image=handle_file(drawing_path), **values)
    assert np.array_equal(_pixels(images[0]), _pixels(again[0]))
