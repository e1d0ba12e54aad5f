"""img2img and inpaint on the pixel side: the picture and mask at working size, and the result put back A1111's way."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageOps

from pipelines.control_maps import fit_map
from pipelines.requests import GenerationRequest


@dataclass(frozen=True)
class Canvas:
    """What a job starts from: `image` and `mask` (white = repaint, blurred) at the working size; `original` and
    `overlay` (the blurred mask at its size) are what the result is blended back into, at `crop` when only the
    masked area was worked on."""

    image: Image.Image
    mask: Image.Image | None
    original: Image.Image
    overlay: Image.Image | None
    crop: tuple[int, int, int, int] | None = None

    def finish(self, result: Image.Image) -> Image.Image:
        """The result with every pixel outside the blurred mask's reach taken from the original (A1111's overlay;
        diffusers' `apply_overlay`, which also pastes an only-masked crop back at its place)."""
        if self.overlay is None:
            return result
        return _processor().apply_overlay(self.overlay, self.original, result, self.crop)

    def crop_map(self, image: Image.Image) -> Image.Image:
        """A unit's map cut to the only-masked area (scaled from the picture's pixels to the map's), as the picture is."""
        if self.crop is None:
            return image
        sx, sy = image.width / self.original.width, image.height / self.original.height
        left, top, right, bottom = self.crop
        return image.crop((round(left * sx), round(top * sy), max(round(right * sx), 1), max(round(bottom * sy), 1)))


def _processor():
    from diffusers.image_processor import VaeImageProcessor

    return VaeImageProcessor(vae_scale_factor=8)


def _mask(request: GenerationRequest, size: tuple[int, int], resize_mode: str) -> Image.Image:
    """The mask as white = repaint at `size`, inverted for "Inpaint not masked", then blurred by Mask blur."""
    mask = fit_map(request.mask.convert("RGB"), *size, resize_mode).convert("L")
    if request.mask_mode == "Inpaint not masked":
        mask = ImageOps.invert(mask)
    return _processor().blur(mask, request.mask_blur) if request.mask_blur else mask


def _fill(image: Image.Image, mask: Image.Image) -> Image.Image:
    """A1111's "fill": the masked area painted from its surroundings before encoding. OpenCV's inpainting (Telea)
    does this job; A1111 repeats blurs by hand, which no library offers."""
    import cv2

    pixels = cv2.inpaint(np.asarray(image), (np.asarray(mask) >= 128).astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)
    return Image.fromarray(pixels)


def make_canvas(request: GenerationRequest) -> Canvas:
    """Whole picture: the picture and mask fitted to the output size by the resize mode. Only masked: the mask is
    blurred at the picture's own size, the masked area (plus padding, widened to the output's aspect) is cut out and
    worked on at the output size, and the result goes back into the full picture."""
    size = (request.width, request.height)
    picture = request.init_image.convert("RGB")
    if not request.only_masked:
        picture = fit_map(picture, *size, request.init_resize_mode)
        mask = _mask(request, size, request.init_resize_mode) if request.inpaint else None
        image = _fill(picture, mask) if mask is not None and request.masked_content == "fill" else picture
        return Canvas(image=image, mask=mask, original=picture, overlay=mask)
    overlay = _mask(request, picture.size, "Just Resize")
    crop = _processor().get_crop_region(overlay, request.width, request.height, pad=request.inpaint_padding)
    image = fit_map(picture.crop(crop), *size, "Just Resize")
    mask = fit_map(overlay.crop(crop).convert("RGB"), *size, "Just Resize").convert("L")
    if request.masked_content == "fill":
        image = _fill(image, mask)
    return Canvas(image=image, mask=mask, original=picture, overlay=overlay, crop=crop)


def mark_masked(control: torch.Tensor, mask: Image.Image, union: bool) -> torch.Tensor:
    """The inpaint ControlNet's input: the picture with the pixels to repaint marked, -1 for SD1.5's v1.1 inpaint model
    (A1111's inpaint_only, diffusers' make_inpaint_condition) and black for the union model's repaint type (xinsir's
    and diffusers' example); the mask is binarised at half, as theirs."""
    masked = torch.from_numpy(np.asarray(mask.convert("L").resize((control.shape[-1], control.shape[-2]))) >= 128)
    return control.masked_fill(masked.to(control.device)[None, None], 0.0 if union else -1.0)
