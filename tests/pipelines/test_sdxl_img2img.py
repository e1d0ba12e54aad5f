"""img2img and inpaint on SDXL: `tiny-sdxl` with its union model reproduces diffusers' union img2img and inpaint
pipelines on the same components (inpaint after the same overlay)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionXLControlNetUnionImg2ImgPipeline, StableDiffusionXLControlNetUnionInpaintPipeline
from diffusers.image_processor import VaeImageProcessor
from PIL import Image, ImageDraw

from pipelines.architectures import UNION_TYPES
from pipelines.engine import Engine
from pipelines.samplers import build_scheduler
from tests.pipelines.helpers import make_request, pixel_diff
from tests.pipelines.test_sdxl import _parts


@pytest.fixture(scope="module")
def xl_engine() -> Engine:
    return Engine.load("tiny-sdxl", device="cpu", taesd=False)


@pytest.fixture(scope="module")
def picture() -> Image.Image:
    y, x = np.mgrid[0:64, 0:64]
    return Image.fromarray(np.stack([x * 4, y * 4, 255 - (x + y) * 2], axis=-1).clip(0, 255).astype(np.uint8))


def _reference(cls, engine, request, maps, **inputs):
    _, union = engine.controlnets.get("canny")
    pipe = cls(**_parts(engine), controlnet=union)
    pipe.scheduler = build_scheduler(request.sampler, engine.base.scheduler_config)
    pipe.set_progress_bar_config(disable=True)
    return pipe(prompt=request.prompt, negative_prompt=request.negative_prompt or None, image=request.init_image,
                control_image=[maps[0]], control_mode=[UNION_TYPES["canny"]], strength=request.denoising_strength,
                num_inference_steps=request.steps, guidance_scale=request.cfg_scale, width=request.width,
                height=request.height, generator=torch.Generator().manual_seed(request.seed),
                controlnet_conditioning_scale=request.units[0].weight, **inputs).images[0]


def test_sdxl_img2img_matches_diffusers_union_img2img_pipeline(xl_engine, control_image, picture):
    request = make_request(control_image, ("canny",), sampler="Euler a", init_image=picture, denoising_strength=0.5)
    ours = xl_engine.generate(request)
    theirs = _reference(StableDiffusionXLControlNetUnionImg2ImgPipeline, xl_engine, request, ours.maps)
    assert pixel_diff(ours.images[0], theirs) <= 1 / 255


def test_sdxl_inpaint_matches_diffusers_union_inpaint_pipeline_after_the_overlay(xl_engine, control_image, picture):
    mask = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(mask).rectangle((10, 20, 44, 50), fill=255)
    request = make_request(control_image, ("canny",), sampler="Euler a", init_image=picture, mask=mask,
                           denoising_strength=0.5, mask_blur=4)
    ours = xl_engine.generate(request)
    blurred = VaeImageProcessor.blur(mask, 4)
    theirs = _reference(StableDiffusionXLControlNetUnionInpaintPipeline, xl_engine, request, ours.maps, mask_image=blurred)
    assert pixel_diff(ours.images[0], VaeImageProcessor().apply_overlay(blurred, picture, theirs)) <= 1 / 255
