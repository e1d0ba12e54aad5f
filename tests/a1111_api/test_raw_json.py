"""The extension's raw JSON forms, as scripts send them without a client library: each accepted or refused (HTTP 4xx
naming the field in a sentence), never a 500 and never silently ignored."""

from __future__ import annotations

import base64
import io
import json
import time

import httpx
import pytest
from PIL import Image

from tests.a1111_api.conftest import drawing, png_b64

pytestmark = pytest.mark.server
BASE = {"prompt": "x", "seed": 5, "width": 64, "height": 64, "steps": 2}


def _post(app, payload: dict, route: str = "sdapi/v1/txt2img") -> httpx.Response:
    return httpx.post(app.url + route, json=payload, timeout=120)


def _infotext(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    image = Image.open(io.BytesIO(base64.b64decode(response.json()["images"][0])))
    return image.info["parameters"]


def _with_unit(unit: dict, script: str = "controlnet") -> dict:
    return {**BASE, "alwayson_scripts": {script: {"args": [unit]}}}


RAW, DATA_URL = png_b64(drawing()), "data:image/png;base64," + png_b64(drawing())
ACCEPTED = {
    "legacy names, integer modes, -1 defaults": (
        {"input_image": RAW, "module": "canny", "lowvram": True, "guessmode": False, "control_mode": 0,
         "resize_mode": 1, "threshold_a": -1, "threshold_b": -1, "processor_res": 64},
        ["Module: canny", "Threshold A: 100", "Threshold B: 200", "Resize Mode: Crop and Resize", "Control Mode: Balanced"]),
    "a data: URL and a model with its hash": (
        {"image": DATA_URL, "module": "invert", "model": "control_v11p_sd15_lineart [43d4be0d]"},
        ["Module: invert", "Model: control_v11p_sd15_lineart,"]),
    "image and mask as an object": (
        {"image": {"image": RAW, "mask": None}, "module": "none", "model": "control_v11p_sd15_canny"},
        ["Module: none", "Model: control_v11p_sd15_canny"]),
    "image and mask as a pair, the legacy resize name, guessmode": (
        {"image": [RAW, None], "module": "canny", "resize_mode": "Envelope (Outer Fit)", "guessmode": True},
        ["Resize Mode: Resize and Fill", "Control Mode: ControlNet is more important"]),
    "a field from a newer extension that asks for nothing": (
        {"image": RAW, "module": "canny", "some_future_option": None, "hr_option": "Both", "save_detected_map": False},
        ["Module: canny"]),
}


@pytest.mark.parametrize("unit, expected", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_the_extensions_forms_are_accepted_and_used(open_api, unit, expected):
    infotext = _infotext(_post(open_api, _with_unit(unit, script="ControlNet")))
    for text in expected:
        assert text in infotext, (text, infotext)


def test_a_disabled_unit_is_skipped_and_save_detected_map_false_sends_no_map(open_api):
    response = _post(open_api, {**BASE, "alwayson_scripts": {"controlnet": {"args": [
        {"enabled": False, "module": "canny"}, {"image": RAW, "module": "canny", "save_detected_map": False}]},
        "ADetailer": {"args": [False]}}})
    infotext = _infotext(response)
    assert "ControlNet 0: " in infotext and "ControlNet 1: " not in infotext
    assert len(response.json()["images"]) == 1


REFUSED = {
    "a hires sampler of its own": ({**BASE, "enable_hr": True, "hr_sampler_name": "DDIM"}, "hr_sampler_name"),
    "face restoration on": ({**BASE, "restore_faces": True}, "restore_faces"),
    "an unknown field with a value": ({**BASE, "magic": 3}, "magic"),
    "a step count over the limit": ({**BASE, "steps": 100000}, None),
    "an unknown sampler": ({**BASE, "sampler_name": "Nope"}, None),
    "eta 1 with DDIM": ({**BASE, "sampler_name": "DDIM", "eta": 1}, "eta"),
    "a scheduler we lack": ({**BASE, "sampler_name": "Euler", "scheduler": "exponential"}, "scheduler"),
    "another model by override_settings": ({**BASE, "override_settings": {"sd_model_checkpoint": "sdxl"}},
                                           "override_settings.sd_model_checkpoint"),
    "another always-on script enabled": ({**BASE, "alwayson_scripts": {"ADetailer": {"args": [True, {}]}}},
                                         "alwayson_scripts.ADetailer"),
    "an enabled unit without an image": (_with_unit({"module": "canny"}), "controlnet unit 0 image"),
    "a unit with an inpainting mask": (_with_unit({"image": {"image": RAW, "mask": RAW}}), "controlnet unit 0 mask"),
    "a control mode past 2": (_with_unit({"image": RAW, "module": "canny", "control_mode": 5}),
                              "controlnet unit 0 control_mode"),
    "an unknown preprocessor": (_with_unit({"image": RAW, "module": "cany"}), None),
    "an image that is not base64 of an image": (_with_unit({"image": "bm90IGFuIGltYWdl", "module": "canny"}),
                                                "controlnet unit 0 image"),
}


@pytest.mark.parametrize("payload, field", REFUSED.values(), ids=REFUSED.keys())
def test_what_cannot_be_honoured_is_refused_by_name(open_api, payload, field):
    response = _post(open_api, payload)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["field"] == field and body["detail"].endswith(".") and "Traceback" not in response.text
    if field:
        assert field.split(" ")[-1].split(".")[-1] in body["detail"]


def test_img2img_without_a_picture_and_bad_json_get_sentences_not_500s(open_api):
    img2img = _post(open_api, {"prompt": "x"}, "sdapi/v1/img2img")
    assert img2img.status_code == 422 and "init_images must be a list" in img2img.json()["detail"]
    garbled = httpx.post(open_api.url + "sdapi/v1/txt2img", content=b"{not json", timeout=30)
    assert garbled.status_code == 422 and garbled.json()["detail"] == "The request body is not valid JSON."
    listed = httpx.post(open_api.url + "sdapi/v1/txt2img", content=json.dumps([1, 2]), timeout=30)
    assert listed.status_code == 422


def test_options_accept_what_the_server_runs_and_refuse_other_models_by_name(open_api):
    assert httpx.get(open_api.url + "sdapi/v1/options", timeout=30).json()["sd_model_checkpoint"] == "tiny"
    same = _post(open_api, {"sd_model_checkpoint": "tiny", "CLIP_stop_at_last_layers": 1}, "sdapi/v1/options")
    assert same.status_code == 200 and same.json() is None
    other = _post(open_api, {"sd_model_checkpoint": "some-other-model"}, "sdapi/v1/options")
    assert other.status_code == 422 and other.json()["field"] == "sd_model_checkpoint"
    assert "not a model this server lists" in other.json()["detail"]
    clip = _post(open_api, {"CLIP_stop_at_last_layers": 2}, "sdapi/v1/options")
    assert clip.status_code == 422 and clip.json()["field"] == "CLIP_stop_at_last_layers"
    kept = _post(open_api, {**BASE, "override_settings": {"sd_model_checkpoint": "tiny"}})
    assert kept.status_code == 200


def test_a_caller_who_hangs_up_stops_the_job(open_api):
    """A client that times out or dies mid-job: its job stops within a step instead of keeping the GPU for nobody. It
    asked for its image to be saved, so a job that ran on would leave a file."""
    seed = 8080
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(open_api.url + "sdapi/v1/txt2img", timeout=httpx.Timeout(30, read=2),
                   json={**BASE, "seed": seed, "steps": 150, "width": 256, "height": 256, "save_images": True})
    deadline = time.monotonic() + 60
    while httpx.get(open_api.url + "sdapi/v1/progress", timeout=30).json()["state"]["job_count"]:  # bounded
        assert time.monotonic() < deadline, "the abandoned job kept running"
        time.sleep(0.2)
    assert not list(open_api.outputs.glob(f"*/*-{seed}.png")), "the abandoned job ran to its end"
