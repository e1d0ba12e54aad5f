"""img2img and inpaint run in the engine's one loop and reproduce diffusers' ControlNet img2img and inpaint pipelines
on the same components (the inpaint result after the same overlay A1111 and diffusers' `apply_overlay` do), and keep
A1111's rules: strength s of N steps runs the last int(N s), strength 0 gives the picture back, strength 1 ignores it,
and pixels the blurred mask does not reach stay the original's."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from diffusers import (
    PNDMScheduler,
    StableDiffusionControlNetImg2ImgPipeline,
    StableDiffusionControlNetInpaintPipeline,
)
from diffusers.image_processor import VaeImageProcessor
from PIL import Image, ImageDraw

from pipelines.requests import RequestError
from pipelines.samplers import build_scheduler
from tests.pipelines.helpers import make_request, pixel_diff


@pytest.fixture(scope="module")
def picture() -> Image.Image:
    """A smooth, coloured picture (so a VAE round trip is close and repainting is visible)."""
    y, x = np.mgrid[0:64, 0:64]
    pixels = np.stack([x * 4, y * 4, 255 - (x + y) * 2], axis=-1).clip(0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


@pytest.fixture(scope="module")
def mask() -> Image.Image:
    image = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(image).rectangle((16, 16, 40, 40), fill=255)
    return image


def _pipe(cls, engine, net):
    base = engine.base
    pipe = cls(vae=base.vae, text_encoder=base.text_encoder, tokenizer=base.tokenizer, unet=base.unet, controlnet=net,
               scheduler=PNDMScheduler.from_config(base.scheduler_config), safety_checker=None, feature_extractor=None,
               requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _reference(engine, request, maps, **inputs):
    _, net = engine.controlnets.get("canny")
    cls = StableDiffusionControlNetInpaintPipeline if "mask_image" in inputs else StableDiffusionControlNetImg2ImgPipeline
    pipe = _pipe(cls, engine, net)
    pipe.scheduler = build_scheduler(request.sampler, engine.base.scheduler_config)
    return pipe(prompt=request.prompt, negative_prompt=request.negative_prompt, image=request.init_image,
                control_image=maps[0], strength=request.denoising_strength, num_inference_steps=request.steps,
                guidance_scale=request.cfg_scale, width=request.width, height=request.height,
                generator=torch.Generator().manual_seed(request.seed),
                controlnet_conditioning_scale=request.units[0].weight, **inputs).images[0]


@pytest.mark.parametrize("sampler", ["Euler a", "DPM++ 2M Karras"])
def test_img2img_matches_diffusers_controlnet_img2img_pipeline(engine, control_image, picture, sampler):
    request = make_request(control_image, ("canny",), sampler=sampler, init_image=picture, denoising_strength=0.5)
    ours = engine.generate(request)
    theirs = _reference(engine, request, ours.maps)
    assert pixel_diff(ours.images[0], theirs) <= 1 / 255


@pytest.mark.parametrize("sampler", ["Euler a", "DPM++ 2M Karras"])
def test_inpaint_matches_diffusers_controlnet_inpaint_pipeline_after_the_overlay(engine, control_image, picture, mask,
                                                                                 sampler):
    request = make_request(control_image, ("canny",), sampler=sampler, init_image=picture, mask=mask,
                           denoising_strength=0.5, mask_blur=4)
    ours = engine.generate(request)
    blurred = VaeImageProcessor.blur(mask, 4)
    theirs = _reference(engine, request, ours.maps, mask_image=blurred)
    theirs = VaeImageProcessor().apply_overlay(blurred, picture, theirs)
    assert pixel_diff(ours.images[0], theirs) <= 1 / 255


def test_strength_runs_the_last_int_n_s_steps(engine, control_image, picture):
    request = make_request(control_image, ("canny",), init_image=picture, denoising_strength=0.6, steps=20)
    totals = []
    engine.generate(request, on_step=lambda update: totals.append(update.total))
    assert set(totals) == {12} and len(totals) == 12


def test_strength_zero_returns_the_picture_after_the_vae_round_trip(engine, control_image, picture):
    request = make_request(control_image, ("canny",), init_image=picture, denoising_strength=0.0)
    ours = engine.generate(request).images[0]
    vae = engine.base.vae
    pixels = VaeImageProcessor(vae_scale_factor=8).preprocess(picture)
    with torch.inference_mode():
        latents = vae.encode(pixels).latent_dist.sample(generator=torch.Generator().manual_seed(request.seed))
        round_trip = vae.decode(latents, return_dict=False)[0]
    expected = VaeImageProcessor(vae_scale_factor=8).postprocess(round_trip, output_type="pil")[0]
    assert pixel_diff(ours, expected) <= 1 / 255


def test_strength_one_ignores_the_picture(engine, control_image, picture):
    txt2img = make_request(control_image, ("canny",))
    from_picture = engine.generate(replace(txt2img, init_image=picture, denoising_strength=1.0)).images[0]
    from_other = engine.generate(replace(txt2img, init_image=picture.rotate(90), denoising_strength=1.0)).images[0]
    assert pixel_diff(from_picture, engine.generate(txt2img).images[0]) == 0
    assert pixel_diff(from_picture, from_other) == 0


def test_a_middle_strength_keeps_the_picture_more_than_a_high_one(engine, control_image, picture):
    def distance(strength: float) -> float:
        image = engine.generate(make_request(control_image, ("canny",), init_image=picture, denoising_strength=strength,
                                             steps=10)).images[0]
        return float(np.abs(np.asarray(image, float) - np.asarray(picture, float)).mean())

    assert distance(0.3) < distance(0.9)


def test_batch_row_i_equals_seed_plus_i_alone(engine, control_image, picture, mask):
    request = make_request(control_image, ("canny",), sampler="Euler a", init_image=picture, mask=mask,
                           denoising_strength=0.7, batch_size=2)
    batch = engine.generate(request)
    alone = engine.generate(replace(request, batch_size=1, seed=request.seed + 1))
    assert pixel_diff(batch.images[1], alone.images[0]) <= 1 / 255


@pytest.mark.parametrize("content", ["fill", "original", "latent noise", "latent nothing"])
def test_outside_the_blurred_mask_every_pixel_is_the_original(engine, control_image, picture, mask, content):
    request = make_request(control_image, ("canny",), init_image=picture, mask=mask, denoising_strength=0.9,
                           mask_blur=3, masked_content=content)
    image = np.asarray(engine.generate(request).images[0], dtype=np.int16)
    reach = np.asarray(VaeImageProcessor.blur(mask, 3)) > 0
    original = np.asarray(picture, dtype=np.int16)
    assert (image[~reach] == original[~reach]).all()
    assert np.abs(image[reach] - original[reach]).mean() > 2  # and the masked area was repainted


def test_inpaint_not_masked_repaints_the_outside(engine, control_image, picture, mask):
    request = make_request(control_image, ("canny",), init_image=picture, mask=mask, denoising_strength=0.9,
                           mask_blur=0, mask_mode="Inpaint not masked")
    image = np.asarray(engine.generate(request).images[0], dtype=np.int16)
    inside = np.asarray(mask) > 0
    original = np.asarray(picture, dtype=np.int16)
    assert (image[inside] == original[inside]).all()
    assert np.abs(image[~inside] - original[~inside]).mean() > 2


def test_only_masked_works_on_a_large_picture_at_a_small_working_size(engine, control_image):
    y, x = np.mgrid[0:768, 0:1024]
    big = Image.fromarray(np.stack([x // 4, y // 3, (x + y) // 7], axis=-1).astype(np.uint8))
    small_mask = Image.new("L", big.size, 0)
    ImageDraw.Draw(small_mask).ellipse((600, 300, 660, 350), fill=255)
    request = make_request(control_image, ("canny",), init_image=big, mask=small_mask, denoising_strength=0.9,
                           mask_blur=4, inpaint_area="Only masked", inpaint_padding=16, width=128, height=128)
    image = engine.generate(request).images[0]
    assert image.size == (1024, 768)
    pixels, original = np.asarray(image, dtype=np.int16), np.asarray(big, dtype=np.int16)
    reach = np.asarray(VaeImageProcessor.blur(small_mask, 4)) > 0
    assert (pixels[~reach] == original[~reach]).all()
    assert np.abs(pixels[reach] - original[reach]).mean() > 2


@pytest.mark.parametrize(("changes", "words"), [
    ({"mask": "mask"}, "needs the picture"),
    ({"init_image": "picture", "mask": "empty"}, "nothing to repaint"),
    ({"init_image": "not an image"}, "not an image"),
])
def test_bad_pictures_are_refused_with_a_sentence(engine, control_image, picture, mask, changes, words):
    values = {"mask": mask, "picture": picture, "empty": Image.new("L", (64, 64), 0)}
    request = make_request(control_image, ("canny",), **{key: values.get(value, value) for key, value in changes.items()})
    with pytest.raises(RequestError, match=words):
        engine.generate(request)


def test_a_matrix_over_denoising_strength_equals_single_generations(engine, control_image, picture, mask):
    request = make_request(control_image, ("canny",), init_image=picture, mask=mask, denoising_strength=0.3)
    cells = [replace(request, denoising_strength=strength) for strength in (0.3, 0.6, 0.9)]
    for cell, result in zip(cells, engine.matrix(cells)):
        assert pixel_diff(result.images[0], engine.generate(cell).images[0]) <= 1 / 255
        assert f"Denoising strength: {cell.denoising_strength:g}" in result.infotexts[0]


def test_only_masked_without_a_mask_is_plain_img2img(engine, control_image, picture):
    request = make_request(control_image, ("canny",), init_image=picture, denoising_strength=0.5)
    assert pixel_diff(engine.generate(replace(request, inpaint_area="Only masked")).images[0],
                      engine.generate(request).images[0]) == 0
