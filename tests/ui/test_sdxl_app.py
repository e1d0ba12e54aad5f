"""`python app.py --model tiny-sdxl --api`: over the named API a Canny, a depth_midas and an OpenPose unit each generate
at 128² on the union model, the same request gives the same pixels, and /png_info's parameters sent back to /generate
give the image again; `webuiapi` (unchanged) runs txt2img with two union units."""

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
def xl_app(tmp_path_factory, annotators_ready):
    running = start_app(tmp_path_factory.mktemp("xl-app"), "--api", model="tiny-sdxl")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def xl_client(xl_app):
    return Client(xl_app.url, verbose=False)


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


def test_webuiapi_txt2img_with_two_union_units_names_sdxl_and_repeats(xl_app):
    import webuiapi

    from tests.a1111_api.conftest import drawing

    host, port = xl_app.url.removeprefix("http://").rstrip("/").split(":")
    webui = webuiapi.WebUIApi(host=host, port=int(port), sampler="Euler a", steps=2)
    assert webui.controlnet_model_list()[0] == "controlnet-union-sdxl-1.0"
    units = [webuiapi.ControlNetUnit(image=drawing(), module=module, model="controlnet-union-sdxl-1.0", processor_res=64)
             for module in ("canny", "depth_midas")]
    job = dict(prompt="a lighthouse", seed=3, width=128, height=128, steps=2, controlnet_units=units)
    first = webui.txt2img(**job)
    parsed = parse_infotext(first.images[0].info["parameters"])
    assert parsed.params["Architecture"] == "SDXL"
    assert [(unit["Condition"], unit["Union Control Type"]) for unit in parsed.units] == [
        ("canny", UNION_TYPE_NAMES[3]), ("depth", UNION_TYPE_NAMES[1])]
    assert np.array_equal(np.asarray(first.images[0]), np.asarray(webui.txt2img(**job).images[0]))


@pytest.mark.browser
def test_the_page_adapts_to_sdxl_sizes_controlnets_and_models_tab(xl_app):
    from tests.ui.browser import chromium_page, shown

    with chromium_page(xl_app.url) as page:
        # opened while the model loads (start_app waits for the page only): the fit comes with the banner's tick
        page.wait_for_function("() => document.querySelector('#banner').innerText"
                               ".includes('Untrained demo model (tiny-sdxl)')")
        for tab, elem_ids in (("Generate", ("gen-width", "gen-height")), ("Compare", ("cmp-width", "cmp-height"))):
            page.get_by_role("tab", name=tab).click()  # a tab's controls are drawn when it is first shown
            for elem_id in elem_ids:
                page.wait_for_function("(id) => document.querySelector(`#${id} input[type=number]`)?.value === '1024'",
                                       arg=elem_id, timeout=20_000)
        page.get_by_role("tab", name="Generate").click()
        page.locator("#unit0-model input").click()
        listed = page.get_by_role("option").all_inner_texts()
        assert "xinsir/controlnet-union-sdxl-1.0" in listed and "TheMistoAI/MistoLine" in listed
        assert not any("sd15" in option for option in listed), listed  # SD1.5's ControlNets cannot run here
        page.keyboard.press("Escape")
        page.get_by_role("tab", name="Models").click()
        table = page.locator("#models-controlnets")
        page.wait_for_function("() => document.querySelector('#models-controlnets')?.innerText"
                               ".includes('controlnet-union-sdxl-1.0')")
        text = table.inner_text()
        assert text.count("xinsir/controlnet-union-sdxl-1.0") == len(UNION_TYPES), text  # every condition, one model
        assert "cannot run" not in text and "sd15" not in text  # built in, or in memory after the jobs above
        assert shown(page, "gen-width", "number") == 1024


def test_compare_of_six_conditions_equals_six_single_generations(xl_client, drawing_path):
    """One union model, six control types, one seed: each matrix cell is the image /generate makes alone (to 1/255)."""
    modules = ["canny", "lineart_standard", "softedge_pidinet", "openpose", "depth_midas", "normal_bae"]
    settings = dict(prompt="a lighthouse", seed=21, steps=2, width=128, height=128, processor_res=128)
    items, captions, _ = xl_client.predict(image=handle_file(drawing_path), modules=modules, **settings,
                                           api_name="/compare")
    assert captions[len(modules):] == [f"{module} · seed 21" for module in modules]
    cells = [item["image"] if isinstance(item, dict) else item for item in items[len(modules):]]
    for module, cell in zip(modules, cells):
        alone, _ = _generate(xl_client, image=handle_file(drawing_path), module=module, **settings)
        # the matrix runs the six as one UNet batch: float sums in another order move a pixel by 1/255 at most
        assert np.abs(_pixels(cell).astype(int) - _pixels(alone[0])).max() <= 1, module
    # five control types, five images (canny and lineart_standard share type 3; on the untrained tiny ControlNet the
    # map enters through a zero convolution, as in any untrained ControlNet, so their maps alone change no pixel)
    one_per_type = [cell for module, cell in zip(modules, cells) if module != "lineart_standard"]
    assert len({_pixels(cell).tobytes() for cell in one_per_type}) == 5
