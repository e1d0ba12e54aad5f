"""`webuiapi`'s img2img, unchanged, against `--api`: with a mask and two ControlNet units (one without an image takes
the picture, as sd-webui-controlnet does), A1111's numeric codes, and the same pixels as the gradio /generate API."""

from __future__ import annotations

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image, ImageDraw, ImageFilter

from tests.a1111_api.conftest import drawing

pytestmark = pytest.mark.server


def _picture() -> Image.Image:
    y, x = np.mgrid[0:64, 0:64]
    return Image.fromarray(np.stack([x * 4, y * 4, 255 - (x + y) * 2], axis=-1).clip(0, 255).astype(np.uint8))


def _mask() -> Image.Image:
    mask = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(mask).rectangle((20, 20, 44, 44), fill=255)
    return mask


def test_img2img_with_a_mask_and_two_units_repaints_only_the_mask(webui):
    import webuiapi

    canny = webuiapi.ControlNetUnit(image=drawing(), module="canny", model="control_v11p_sd15_canny [d14c016b]",
                                    processor_res=64, threshold_a=100, threshold_b=200)
    from_picture = webuiapi.ControlNetUnit(module="lineart_standard", model="control_v11p_sd15_lineart", processor_res=64,
                                           threshold_a=6, threshold_b=8, weight=0.5)
    assert from_picture.image is None  # no image of its own: the unit takes the img2img picture
    job = dict(images=[_picture()], mask_image=_mask(), denoising_strength=0.8, mask_blur=2, inpainting_fill=1,
               inpaint_full_res=False, prompt="a ripe apple", seed=5, width=64, height=64, steps=4,
               controlnet_units=[canny, from_picture])
    result = webui.img2img(**job)
    assert len(result.images) == 3  # the result, then each unit's map
    image = np.asarray(result.images[0].convert("RGB"), dtype=np.int16)
    reach = np.asarray(_mask().filter(ImageFilter.GaussianBlur(2))) > 0
    original = np.asarray(_picture(), dtype=np.int16)
    assert (image[~reach] == original[~reach]).all() and np.abs(image[reach] - original[reach]).mean() > 2
    infotext = result.images[0].info["parameters"]
    for words in ("Denoising strength: 0.8", "Mask blur: 2", "Masked content: original", "ControlNet 1:"):
        assert words in infotext
    assert "Inpaint area" not in infotext  # whole picture: A1111's default, left out
    assert result.info["denoising_strength"] == 0.8
    again = webui.img2img(**job)
    assert np.array_equal(np.asarray(again.images[0]), np.asarray(result.images[0]))


def test_webuiapi_defaults_mean_only_masked_with_fill(webui):
    result = webui.img2img(images=[_picture()], mask_image=_mask(), prompt="x", seed=6, width=64, height=64, steps=2)
    infotext = result.images[0].info["parameters"]
    assert "Inpaint area: Only masked" in infotext and "Masked area padding: 0" in infotext
    assert "Masked content: fill" in infotext


def test_img2img_without_a_mask_ignores_the_inpaint_fields_and_matches_generate(open_api, webui, tmp_path):
    result = webui.img2img(images=[_picture()], denoising_strength=0.5, prompt="a cabin", seed=77, width=64, height=64,
                           steps=4, resize_mode=1)
    infotext = result.images[0].info["parameters"]
    assert "Denoising strength: 0.5" in infotext and "Resize mode: Crop and Resize" in infotext
    assert "Inpaint area" not in infotext and "Mask blur" not in infotext
    path = tmp_path / "picture.png"
    _picture().save(path)
    images, _, ours = Client(open_api.url, verbose=False).predict(
        prompt="a cabin", negative_prompt="", init_image=handle_file(str(path)), denoising_strength=0.5,
        init_resize_mode="Crop and Resize", seed=77, width=64, height=64, steps=4, sampler="Euler a", api_name="/generate")
    assert ours == infotext
    assert np.array_equal(np.asarray(result.images[0].convert("RGB")), np.asarray(Image.open(images[0]).convert("RGB")))


@pytest.mark.parametrize(("changes", "field"), [
    ({"init_images": []}, "init_images"),
    ({"inpainting_fill": 7}, "inpainting_fill"),
    ({"resize_mode": 3}, "resize_mode"),
    ({"initial_noise_multiplier": 0.5}, "initial_noise_multiplier"),
])
def test_what_img2img_cannot_honour_is_refused_by_name(open_api, changes, field):
    import httpx

    from tests.a1111_api.conftest import png_b64

    payload = {"init_images": [png_b64(_picture())], "mask": png_b64(_mask()), "prompt": "x", "steps": 2, "width": 64,
               "height": 64, **changes}
    response = httpx.post(open_api.url + "sdapi/v1/img2img", json=payload, timeout=60)
    assert response.status_code == 422 and response.json()["field"] == field, response.text
    assert "Traceback" not in response.text


def test_txt2img_with_hires_fix_returns_the_larger_image_and_repeats(webui):
    import webuiapi

    job = dict(prompt="a harbour", seed=12, width=64, height=64, steps=3, enable_hr=True, hr_scale=1.5,
               hr_upscaler=webuiapi.HiResUpscaler.Latent, hr_second_pass_steps=4, denoising_strength=0.6,
               controlnet_units=[webuiapi.ControlNetUnit(image=drawing(), module="canny", processor_res=64,
                                                         hr_option="Low res only")])
    first = webui.txt2img(**job)
    assert first.images[0].size == (96, 96)
    infotext = first.images[0].info["parameters"]
    for words in ("Denoising strength: 0.6", "Hires upscale: 1.5", "Hires steps: 4", "Hires upscaler: Latent",
                  "Hr Option: Low res only"):
        assert words in infotext
    assert np.array_equal(np.asarray(webui.txt2img(**job).images[0]), np.asarray(first.images[0]))
