"""Latents to pictures: a few at a time, and never a NaN image (the fp16 VAE's black-image failure is retried in fp32)."""

from __future__ import annotations

import logging

import torch
from PIL import Image

from pipelines.cancel import CancelToken
from pipelines.denoise import GenerationError, JobCancelled

log = logging.getLogger(__name__)
DECODE_BATCH = 4


def decode_latents(vae, latents: torch.Tensor, cancel: CancelToken | None = None) -> list[Image.Image]:
    """A few images at a time: the decoder's activations for a whole condition matrix took gigabytes at once."""
    images = []
    for start in range(0, len(latents), DECODE_BATCH):
        if cancel is not None and cancel.cancelled:
            raise JobCancelled()
        images.extend(_decode_chunk(vae, latents[start:start + DECODE_BATCH]))
    return images


def _decode_chunk(vae, latents: torch.Tensor) -> list[Image.Image]:
    from diffusers.image_processor import VaeImageProcessor

    with torch.inference_mode():
        pixels = vae.decode(latents.to(vae.dtype) / vae.config.scaling_factor, return_dict=False)[0]
        if torch.isnan(pixels).any():
            log.warning("VAE decode gave NaN in %s; decoding again in float32", vae.dtype)
            original = vae.dtype
            vae.to(torch.float32)
            try:
                pixels = vae.decode(latents.float() / vae.config.scaling_factor, return_dict=False)[0]
            finally:
                vae.to(original)
            if torch.isnan(pixels).any():
                raise GenerationError("The VAE produced an invalid (NaN) image even in float32; try another seed or model.")
    return VaeImageProcessor(vae_scale_factor=8).postprocess(pixels.float(), output_type="pil")
