"""Speed features are wired: TAESD live previews and LCM-LoRA draft mode, both through the real loaders."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from pipelines.engine import Engine, StepUpdate
from pipelines.speed import LCM_LORA, LCM_LORA_FILE, TAESD
from tests.fakehub import add_file, add_folder, snapshot_dir
from tests.pipelines.helpers import make_request, pixel_diff


@pytest.fixture(scope="module")
def taesd_repo(hub_cache, tmp_path_factory):
    """madebyollin/taesd with the real AutoencoderTiny architecture and random weights."""
    from diffusers import AutoencoderTiny

    torch.manual_seed(3)
    folder = tmp_path_factory.mktemp("taesd")
    AutoencoderTiny().save_pretrained(folder)
    return add_folder(hub_cache, TAESD, folder)


@pytest.fixture(scope="module")
def lcm_lora_repo(hub_cache, tmp_path_factory):
    """latent-consistency/lcm-lora-sdv1-5 as a random LoRA over the tiny UNet's attention layers."""
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    from pipelines.tiny import build_unet

    unet = build_unet()
    torch.manual_seed(4)
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"], init_lora_weights=False))
    folder = tmp_path_factory.mktemp("lcm")
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    StableDiffusionPipeline.save_lora_weights(folder, unet_lora_layers=layers, safe_serialization=True)
    add_file(hub_cache, LCM_LORA, LCM_LORA_FILE, folder / LCM_LORA_FILE)
    return snapshot_dir(hub_cache, LCM_LORA)


def test_previews_arrive_before_the_final_image(taesd_repo, control_image):
    engine = Engine.load("tiny", device="cpu", preview_every=2)
    updates: list[StepUpdate] = []
    result = engine.generate(make_request(control_image, steps=6), on_step=updates.append)
    with_previews = [u for u in updates if u.previews]
    assert [u.step for u in with_previews] == [2, 4]  # never on the last step: the final image follows
    assert engine.previews.kind == "taesd"
    preview = with_previews[0].previews[0]
    assert preview.size == result.images[0].size and preview.mode == "RGB"
    assert np.asarray(preview).std() > 0


def test_previews_fall_back_to_the_cheap_approximation_without_taesd(control_image):
    engine = Engine.load("tiny", device="cpu", preview_every=3, taesd=False)
    updates: list[StepUpdate] = []
    engine.generate(make_request(control_image, steps=4), on_step=updates.append)
    assert engine.previews.kind == "cheap"
    assert [u.step for u in updates if u.previews] == [3]
    assert updates[2].previews[0].size == (8, 8)  # one pixel per latent


def test_draft_mode_loads_the_lcm_lora_from_the_hub_cache(lcm_lora_repo, control_image):
    engine = Engine.load("tiny", device="cpu")
    plain = make_request(control_image, sampler="LCM", steps=4, cfg_scale=1.5)
    before = engine.generate(plain).images[0]
    from dataclasses import replace

    drafted = engine.generate(replace(plain, draft=True))
    assert engine.draft.loaded
    assert "Sampler: LCM" in drafted.infotexts[0] and "Draft: LCM-LoRA" in drafted.infotexts[0]
    assert pixel_diff(drafted.images[0], before) > 1 / 255  # the LoRA changed the UNet's output
    saved = load_file(str(lcm_lora_repo / LCM_LORA_FILE))
    key = next(k for k in saved if k.endswith("to_q.lora.down.weight"))  # diffusers' LoRA file naming
    module = engine.base.unet.get_submodule(key.removeprefix("unet.").removesuffix(".lora.down.weight"))
    loaded = next(iter(module.lora_A.values())).weight
    assert torch.equal(loaded, saved[key])
    after = engine.generate(plain).images[0]
    assert pixel_diff(after, before) == 0  # the adapter is off again for normal jobs


def test_draft_mode_demands_lcm_settings(control_image):
    from pipelines.requests import RequestError

    engine = Engine.load("tiny", device="cpu")
    with pytest.raises(RequestError, match="sampler LCM"):
        engine.generate(make_request(control_image, draft=True, sampler="Euler a"))
