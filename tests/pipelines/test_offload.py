"""CPU offload is wired: accelerate's hooks sit on every part, change no pixel, and nothing stays put after a job.

The weights only really travel on a GPU (the GPU benchmark measures that); here the execution device is the
CPU, so these tests prove the wiring and that the hooks are transparent, including through LoRA loading.
"""

from __future__ import annotations

import gc
from dataclasses import replace

import torch

from pipelines.engine import Engine
from pipelines.loading import load_base
from pipelines.offload import ModelOffload, is_offloaded
from tests.pipelines.helpers import make_request, pixel_diff


def test_offload_hooks_every_part_and_change_no_pixel(engine, control_image):
    offloaded = Engine.load("tiny", device="cpu", cpu_offload=True)
    assert all(is_offloaded(part) for part in offloaded.base.parts())
    assert not any(is_offloaded(part) for part in engine.base.parts())
    request = make_request(control_image, conditions=("canny", "depth"), steps=3)
    plain, hooked = engine.generate(request), offloaded.generate(request)
    assert pixel_diff(plain.images[0], hooked.images[0]) == 0
    nets = [offloaded.controlnets.get(c)[1] for c in ("canny", "depth")]
    assert all(is_offloaded(net) for net in nets)
    assert offloaded.status()["cpu_offload"] is True and engine.status()["cpu_offload"] is False


def test_release_sends_every_part_back_after_a_job(control_image, monkeypatch):
    offloaded = Engine.load("tiny", device="cpu", cpu_offload=True)
    released: list[int] = []
    original = offloaded.offload.release
    monkeypatch.setattr(offloaded.offload, "release", lambda: (released.append(len(offloaded.offload.modules())), original())[1])
    offloaded.generate(make_request(control_image, steps=2))
    assert released == [4]  # text encoder, UNet, VAE and the canny ControlNet
    assert all(next(m.parameters()).device.type == "cpu" for m in offloaded.offload.modules())


def test_evicted_controlnets_are_not_kept_alive_by_the_hooks(control_image):
    offloaded = Engine.load("tiny", device="cpu", cpu_offload=True, controlnet_cache=1)
    offloaded.generate(make_request(control_image, steps=1, conditions=("canny",)))
    offloaded.generate(make_request(control_image, steps=1, conditions=("depth",)))
    gc.collect()
    assert offloaded.controlnets.resident() == ["lllyasviel/control_v11f1p_sd15_depth"]
    assert len(offloaded.offload.modules()) == 4  # three base parts + the one resident ControlNet


def test_draft_mode_loads_its_lora_under_offload_and_keeps_the_hooks(lcm_lora_repo, control_image):
    plain_engine = Engine.load("tiny", device="cpu")
    offloaded = Engine.load("tiny", device="cpu", cpu_offload=True)
    request = make_request(control_image, sampler="LCM", steps=4, cfg_scale=1.5, draft=True)
    expected, got = plain_engine.generate(request), offloaded.generate(request)
    assert offloaded.draft.loaded and pixel_diff(expected.images[0], got.images[0]) == 0
    assert all(is_offloaded(part) for part in offloaded.base.parts())
    undrafted = offloaded.generate(replace(request, draft=False)).images[0]
    assert pixel_diff(undrafted, got.images[0]) > 1 / 255


def test_suspended_takes_the_hooks_off_and_puts_them_back():
    offload = ModelOffload(torch.device("cpu"))
    base = load_base("tiny", torch.device("cpu"), torch.float32)
    offload.attach_base(base)
    with offload.suspended():
        assert not any(is_offloaded(part) for part in base.parts())
    assert all(is_offloaded(part) for part in base.parts())


def test_sdxl_offload_hooks_both_text_encoders_and_the_union_model_and_changes_no_pixel(control_image):
    plain = Engine.load("tiny-sdxl", device="cpu", taesd=False)
    offloaded = Engine.load("tiny-sdxl", device="cpu", taesd=False, cpu_offload=True)
    parts = offloaded.base.parts()
    assert len(parts) == 4 and offloaded.base.text_encoder_2 in parts and all(is_offloaded(part) for part in parts)
    request = make_request(control_image, conditions=("canny", "depth"), steps=3)
    assert pixel_diff(plain.generate(request, save=False).images[0], offloaded.generate(request, save=False).images[0]) == 0
    assert is_offloaded(offloaded.controlnets.get("depth")[1])
