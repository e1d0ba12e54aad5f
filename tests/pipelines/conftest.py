"""Shared engine fixtures: the tiny model on CPU, a small control image, and fake hub repos of real models."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pipelines.controlnets import CONTROLNET_MODELS
from pipelines.engine import Engine
from pipelines.loading import DEFAULT_MODEL
from pipelines.speed import TAESD
from tests.fakehub import add_folder

# The real SD1.5 repo lists the safety checker and its feature extractor; we pass safety_checker=None,
# so only the extractor's JSON is read, but the index must still parse as the real one does.
_SD15_INDEX_EXTRAS = {
    "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"],
    "feature_extractor": ["transformers", "CLIPImageProcessor"],
    "requires_safety_checker": True,
}
_CLIP_IMAGE_PROCESSOR = {
    "crop_size": {"height": 224, "width": 224}, "do_center_crop": True, "do_convert_rgb": True, "do_normalize": True,
    "do_rescale": True, "do_resize": True, "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_processor_type": "CLIPImageProcessor", "image_std": [0.26862954, 0.26130258, 0.27577711],
    "resample": 3, "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 224},
}


@dataclass(frozen=True)
class FakeModels:
    """What the fake hub cache holds: where each repo's snapshot is, and the modules saved there."""

    base_snapshot: Path
    base_folder: Path  # the same files as a plain local diffusers folder
    canny_snapshot: Path
    components: object  # TinyComponents whose (perturbed) weights were saved as the base model
    canny: torch.nn.Module


def perturb(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Shift every weight by seeded noise, so weights that load equal to these came from our files."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.05)
    return module


def _real_layout(folder: Path) -> None:
    index_path = folder / "model_index.json"
    index = json.loads(index_path.read_text())
    index.update(_SD15_INDEX_EXTRAS)
    index_path.write_text(json.dumps(index, indent=2))
    (folder / "feature_extractor").mkdir(exist_ok=True)
    (folder / "feature_extractor" / "preprocessor_config.json").write_text(json.dumps(_CLIP_IMAGE_PROCESSOR, indent=2))


@pytest.fixture(scope="session")
def fake_models(hub_cache, tmp_path_factory) -> FakeModels:
    """stable-diffusion-v1-5 (fp32 + fp16 variant files) and control_v11p_sd15_canny in the offline hub cache."""
    from pipelines.tiny import build_controlnet, build_tiny, save_tiny_base

    components = build_tiny(conditions=())
    for seed, part in enumerate((components.unet, components.vae, components.text_encoder), start=100):
        perturb(part, seed)
    folder = tmp_path_factory.mktemp("sd15")
    save_tiny_base(folder, components)
    halves = {name: copy.deepcopy(getattr(components, name)).half() for name in ("unet", "vae", "text_encoder")}
    save_tiny_base(folder, replace(components, **halves), variant="fp16")
    _real_layout(folder)
    base_snapshot = add_folder(hub_cache, DEFAULT_MODEL, folder)

    canny = perturb(build_controlnet("canny"), 200)
    canny_folder = tmp_path_factory.mktemp("canny")
    canny.save_pretrained(canny_folder)
    canny_snapshot = add_folder(hub_cache, CONTROLNET_MODELS["canny"], canny_folder)
    return FakeModels(base_snapshot, folder, canny_snapshot, components, canny)


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine.load("tiny", device="cpu")


@pytest.fixture(scope="session")
def control_image() -> Image.Image:
    """A synthetic drawing with hard edges: rectangles and a circle."""
    canvas = np.zeros((96, 80, 3), dtype=np.uint8)
    canvas[10:40, 10:70] = 255
    yy, xx = np.mgrid[:96, :80]
    canvas[((yy - 65) ** 2 + (xx - 40) ** 2) < 15**2] = (255, 128, 0)
    return Image.fromarray(canvas)


@pytest.fixture(scope="session")
def taesd_repo(hub_cache, tmp_path_factory):
    """madebyollin/taesd with the real AutoencoderTiny architecture and random weights."""
    from diffusers import AutoencoderTiny

    torch.manual_seed(3)
    folder = tmp_path_factory.mktemp("taesd")
    AutoencoderTiny().save_pretrained(folder)
    return add_folder(hub_cache, TAESD, folder)


