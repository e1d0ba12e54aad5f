"""SDXL's own speed and precision parts through their real loaders, from a fake hub cache: TAESD XL previews, the
LCM-LoRA SDXL draft adapter, and madebyollin's fp16-fix VAE in place of the model's own when running in fp16."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from pipelines.architectures import SDXL
from pipelines.engine import Engine, StepUpdate
from pipelines.speed import LCM_LORA_FILE
from tests.fakehub import add_file, add_folder, snapshot_dir
from tests.pipelines.helpers import make_request, pixel_diff


@pytest.fixture(scope="module")
def taesdxl_repo(hub_cache, tmp_path_factory):
    from diffusers import AutoencoderTiny

    torch.manual_seed(5)
    folder = tmp_path_factory.mktemp("taesdxl")
    AutoencoderTiny().save_pretrained(folder)
    return add_folder(hub_cache, SDXL.taesd, folder)


@pytest.fixture(scope="module")
def lcm_sdxl_repo(hub_cache, tmp_path_factory):
    """latent-consistency/lcm-lora-sdxl as a random LoRA over the tiny SDXL UNet's attention layers."""
    from diffusers import StableDiffusionXLPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    from pipelines.tiny_sdxl import build_unet

    unet = build_unet()
    torch.manual_seed(6)
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"],
                                init_lora_weights=False))
    folder = tmp_path_factory.mktemp("lcm-sdxl")
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    StableDiffusionXLPipeline.save_lora_weights(folder, unet_lora_layers=layers, safe_serialization=True)
    add_file(hub_cache, SDXL.lcm_lora, LCM_LORA_FILE, folder / LCM_LORA_FILE)
    return snapshot_dir(hub_cache, SDXL.lcm_lora)


def test_previews_use_taesd_xl(taesdxl_repo, control_image):
    engine = Engine.load("tiny-sdxl", device="cpu", preview_every=2)
    updates: list[StepUpdate] = []
    result = engine.generate(make_request(control_image, steps=4), on_step=updates.append, save=False)
    assert engine.previews.repo == SDXL.taesd and engine.previews.kind == "taesd"
    preview = next(u for u in updates if u.previews).previews[0]
    assert preview.size == result.images[0].size and np.asarray(preview).std() > 0


def test_draft_mode_loads_the_sdxl_lcm_lora(lcm_sdxl_repo, control_image):
    engine = Engine.load("tiny-sdxl", device="cpu", taesd=False)
    plain = make_request(control_image, sampler="LCM", steps=4, cfg_scale=1.5)
    before = engine.generate(plain, save=False).images[0]
    drafted = engine.generate(replace(plain, draft=True), save=False)
    assert engine.draft.repo == SDXL.lcm_lora and pixel_diff(drafted.images[0], before) > 1 / 255
    saved = load_file(str(lcm_sdxl_repo / LCM_LORA_FILE))
    key = next(k for k in saved if k.endswith("to_q.lora.down.weight"))
    module = engine.base.unet.get_submodule(key.removeprefix("unet.").removesuffix(".lora.down.weight"))
    assert torch.equal(next(iter(module.lora_A.values())).weight, saved[key])
    assert pixel_diff(engine.generate(plain, save=False).images[0], before) == 0  # off again for normal jobs


def test_fp16_runs_decode_with_the_fp16_fix_vae(hub_cache, tmp_path):
    """On an fp16 device SDXL's own VAE overflows; the loader puts madebyollin's fix in its place (weights read here,
    nothing run: CPUs lack fp16 convolutions)."""
    from diffusers import AutoencoderKL

    from pipelines.loading import load_base
    from pipelines.tiny import build_vae
    from pipelines.tiny_sdxl import build_tiny_sdxl, save_tiny_sdxl_base

    torch.manual_seed(7)
    fixed = build_vae()
    with torch.no_grad():
        fixed.decoder.conv_out.weight.mul_(0.5)  # other numbers than the model's own VAE
    fixed.register_to_config(scaling_factor=0.13025)
    fixed.save_pretrained(tmp_path / "vae-fix")
    add_folder(hub_cache, SDXL.fp16_vae, tmp_path / "vae-fix")
    save_tiny_sdxl_base(tmp_path / "model", build_tiny_sdxl())
    base = load_base(str(tmp_path / "model"), torch.device("cpu"), torch.float16)
    assert isinstance(base.vae, AutoencoderKL) and base.vae.dtype == torch.float16
    assert torch.equal(base.vae.decoder.conv_out.weight, fixed.decoder.conv_out.weight.half())
    plain = load_base(str(tmp_path / "model"), torch.device("cpu"), torch.float32)
    assert not torch.equal(plain.vae.decoder.conv_out.weight, fixed.decoder.conv_out.weight)  # fp32 keeps its own
