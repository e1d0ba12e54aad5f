"""The `webuiapi` client from PyPI, unchanged, against `python app.py --api`: start-up probes, txt2img with two
ControlNet units, detect, png-info, progress during a job and interrupt; and the same job through /generate."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from tests.a1111_api.conftest import drawing

pytestmark = pytest.mark.server


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"))


def _units(webuiapi, **first):
    canny = webuiapi.ControlNetUnit(image=drawing(), module="canny", model="control_v11p_sd15_canny [d14c016b]",
                                    processor_res=64, threshold_a=100, threshold_b=200, **first)
    ready_map = webuiapi.ControlNetUnit(image=drawing(), module="none", model="control_v11f1p_sd15_depth", weight=0.5,
                                        control_mode=2)
    return [canny, ready_map]


def test_start_up_probes_answer_as_a1111_does(webui):
    assert {"Euler a", "DPM++ 2M Karras", "DDIM"} <= {sampler["name"] for sampler in webui.get_samplers()}
    assert [model["title"] for model in webui.get_sd_models()][0] == "tiny"
    assert webui.util_get_current_model() == "tiny"
    assert "control_v11p_sd15_canny" in webui.controlnet_model_list()
    modules = webui.controlnet_module_list()
    assert "canny" in modules and "lineart_anime_denoise" in modules
    detail = webui.custom_get("controlnet/module_list")["module_detail"]["canny"]
    assert [slider["name"] for slider in detail["sliders"]] == ["Preprocessor Resolution", "Low threshold",
                                                                 "High threshold"]
    assert webui.controlnet_version() == 2


def test_txt2img_with_two_units_returns_results_then_maps_and_repeats_its_pixels(webui):
    import webuiapi

    job = dict(prompt="a lighthouse", negative_prompt="blurry", seed=1234, width=64, height=64, batch_size=2,
               steps=3, cfg_scale=6.5, sampler_name="Euler a", controlnet_units=_units(webuiapi))
    first = webui.txt2img(**job)
    assert len(first.images) == 4  # 2 results, then each unit's map
    assert first.info["all_seeds"] == [1234, 1235] and first.info["seed"] == 1234
    assert first.info["width"] == 64 and first.info["sampler_name"] == "Euler a" and first.info["steps"] == 3
    infotext = first.images[0].info["parameters"]
    assert infotext == first.info["infotexts"][0] and "Seed: 1234" in infotext
    assert 'ControlNet 0: "Module: canny, Model: control_v11p_sd15_canny' in infotext
    assert "Control Mode: ControlNet is more important" in infotext.split("ControlNet 1:")[1]  # integer mode 2
    canny_map = _pixels(first.images[2])
    assert set(np.unique(canny_map)) <= {0, 255} and canny_map.max() == 255  # a real Canny map, not the upload
    assert np.array_equal(_pixels(first.images[3]), _pixels(drawing()))  # module none: the upload is the map
    again = webui.txt2img(**job)
    for before, after in zip(first.images, again.images):
        assert np.array_equal(_pixels(before), _pixels(after))


def test_n_iter_runs_batches_in_a_row_with_seeds_continuing(webui):
    result = webui.txt2img(prompt="x", seed=50, width=64, height=64, batch_size=2, n_iter=2, steps=2)
    assert result.info["all_seeds"] == [50, 51, 52, 53] and len(result.images) == 4


@pytest.mark.parametrize("mode", [1, "My prompt is more important"], ids=["integer", "text"])
def test_txt2img_and_generate_give_the_same_pixels(open_api, webui, tmp_path, mode):
    import webuiapi

    unit = webuiapi.ControlNetUnit(image=drawing(), module="canny", processor_res=64, threshold_a=100, threshold_b=200,
                                   resize_mode="Crop and Resize", control_mode=mode)
    a1111 = webui.txt2img(prompt="a cabin", seed=77, width=64, height=64, steps=3, controlnet_units=[unit])
    path = tmp_path / "drawing.png"
    drawing().save(path)
    images, _, infotext = Client(open_api.url, verbose=False).predict(
        prompt="a cabin", image=handle_file(str(path)), module="canny", processor_res=64, threshold_a=100,
        threshold_b=200, control_mode="My prompt is more important", seed=77, width=64, height=64, steps=3,
        sampler="Euler a", api_name="/generate")
    assert a1111.images[0].info["parameters"] == infotext
    assert np.array_equal(_pixels(a1111.images[0]), _pixels(Image.open(images[0])))


def test_detect_gives_the_map_preprocess_gives(open_api, webui, tmp_path):
    detected = webui.controlnet_detect([drawing()], module="canny", processor_res=64, threshold_a=100, threshold_b=200)
    assert detected.json["info"] == "Success" and len(detected.images) == 1
    path = tmp_path / "drawing.png"
    drawing().save(path)
    ours = Client(open_api.url, verbose=False).predict(handle_file(str(path)), module="canny", processor_res=64,
                                                        threshold_a=100, threshold_b=200, api_name="/preprocess")[0]
    assert np.array_equal(_pixels(detected.images[0]), _pixels(Image.open(ours)))


def test_png_info_and_sd_parsers_read_a_returned_image(webui):
    from sd_parsers import ParserManager

    result = webui.txt2img(prompt="a red fox", negative_prompt="text", seed=31337, width=64, height=64, steps=2,
                           sampler_name="DDIM", eta=0)
    image = result.images[0]
    info = webui.png_info(image)
    assert info.info == image.info["parameters"]
    assert info.parameters["Prompt"] == "a red fox" and info.parameters["Seed"] == "31337"
    assert (info.parameters["Size-1"], info.parameters["Size-2"]) == ("64", "64")
    parsed = ParserManager().parse(image)
    assert parsed is not None, "sd-parsers did not recognise the PNG as A1111's"
    assert [prompt.value for prompt in parsed.prompts] == ["a red fox"]
    sampler = parsed.samplers[0]
    assert sampler.name == "DDIM" and str(sampler.parameters["seed"]) == "31337"


def test_progress_during_a_job_and_interrupt_stops_it_within_seconds(webui):
    outcome = {}
    job = threading.Thread(target=lambda: outcome.__setitem__("result", webui.txt2img(
        prompt="slow", seed=9, width=64, height=64, steps=150)))
    job.start()
    deadline, progress = time.monotonic() + 60, None
    while time.monotonic() < deadline:  # bounded: until the job reports steps
        progress = webui.get_progress()
        if progress["state"]["sampling_step"] > 0:
            break
        time.sleep(0.1)
    assert progress["state"]["sampling_steps"] == 150 and 0 < progress["progress"] < 1
    assert progress["state"]["job"] == "txt2img" and progress["state"]["job_count"] == 1
    webui.interrupt()
    interrupted_at = time.monotonic()
    job.join(timeout=30)
    assert time.monotonic() - interrupted_at < 10
    assert outcome["result"].info["interrupted"] is True and outcome["result"].images == []
    assert webui.get_progress()["state"]["job_count"] == 0
    assert len(webui.txt2img(prompt="next", seed=10, width=64, height=64, steps=2).images) == 1  # the next job runs


def test_save_images_writes_to_the_outputs_folder_and_only_then(open_api, webui):
    webui.txt2img(prompt="kept", seed=4242, width=64, height=64, steps=2, save_images=True)
    webui.txt2img(prompt="not kept", seed=4343, width=64, height=64, steps=2)
    assert len(list(open_api.outputs.glob("*/*-4242.png"))) == 1
    assert not list(open_api.outputs.glob("*/*-4343.png"))


def test_concurrent_callers_each_get_their_own_result(webui):
    results = {}
    callers = [threading.Thread(target=lambda seed=seed: results.__setitem__(seed, webui.txt2img(
        prompt=f"caller {seed}", seed=seed, width=64, height=64, steps=3))) for seed in (61, 62, 63)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(timeout=120)
    for seed, result in results.items():
        alone = webui.txt2img(prompt=f"caller {seed}", seed=seed, width=64, height=64, steps=3)
        assert result.info["seed"] == seed and f"caller {seed}" in result.images[0].info["parameters"]
        assert np.array_equal(_pixels(result.images[0]), _pixels(alone.images[0]))
    assert sorted(results) == [61, 62, 63]


def test_a_call_without_units_does_not_reuse_the_previous_calls_units(open_api):
    """webuiapi keeps units in a default dict shared between calls and clears them only when the server lists the
    extension's scripts; a stale unit would silently steer the next picture."""
    import webuiapi

    host, port = open_api.url.removeprefix("http://").rstrip("/").split(":")
    client = webuiapi.WebUIApi(host=host, port=int(port), steps=2)
    client.txt2img(prompt="with", seed=1, width=64, height=64, controlnet_units=_units(webuiapi)[:1])
    plain = client.txt2img(prompt="without", seed=1, width=64, height=64)
    assert len(plain.images) == 1 and "ControlNet 0" not in plain.images[0].info["parameters"]


def test_detect_with_an_openpose_module_adds_the_people_as_openpose_json(webui, annotators_ready):
    detected = webui.controlnet_detect([drawing().resize((96, 64))], module="openpose_full", processor_res=64)
    [poses] = detected.json["poses"]
    assert (poses["canvas_width"], poses["canvas_height"]) == detected.images[0].size == (96, 64)
    assert isinstance(poses["people"], list)  # random annotator weights: how many people is not the point
    assert "poses" not in webui.controlnet_detect([drawing()], module="canny", processor_res=64).json
