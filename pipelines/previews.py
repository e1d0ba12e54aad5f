"""Cheap live previews: SD1.5 latents projected to RGB with a fixed 4x3 matrix (no decoder needed).

This is the well-known linear approximation of the SD1.x VAE decoder (A1111 calls it "Approx cheap");
no library ships it as a function, so it is written here. TAESD gives nicer previews when installed.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

_LATENT_RGB = torch.tensor(
    [[0.298, 0.207, 0.208], [0.187, 0.286, 0.173], [-0.158, 0.189, 0.264], [-0.184, -0.271, -0.473]]
)


def cheap_preview(latents: torch.Tensor, size: tuple[int, int] | None = None) -> list[Image.Image]:
    """One small RGB image per latent in the batch, upscaled to `size` when given."""
    rgb = torch.einsum("bchw,cr->bhwr", latents.detach().float().cpu(), _LATENT_RGB)
    pixels = ((rgb + 1) / 2).clamp(0, 1).mul(255).to(torch.uint8).numpy()
    images = [Image.fromarray(np.ascontiguousarray(frame)) for frame in pixels]
    return [image.resize(size, Image.Resampling.NEAREST) for image in images] if size else images
