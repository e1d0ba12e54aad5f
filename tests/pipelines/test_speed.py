"""Speed features are wired: TAESD live previews and LCM-LoRA draft mode, both through the real loaders."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from pipelines.engine import Engine, StepUpdate
from pipelines.speed import LCM_LORA_FILE, warm_up
from tests.pipelines.helpers import make_request, pixel_diff


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
    assert "Sampler: LCM" in drafted.infotexts[0] and "Draft: True" in drafted.infotexts[0]
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


def test_warm_up_runs_a_job_without_saving_it(tmp_path):
    """--compile pays its tracing cost here, before the first user job; the warm-up image is never written."""
    engine = Engine.load("tiny", device="cpu", outputs=tmp_path / "out")
    seconds = warm_up(engine, size=64, steps=1)
    assert seconds > 0 and engine.controlnets.resident() == ["lllyasviel/control_v11p_sd15_canny"]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.png"))


def test_warm_up_never_stops_the_app_when_the_default_controlnet_is_missing(engine, caplog):
    from pipelines.controlnets import ControlNetStore
    from pipelines.loading import ModelLoadError

    def missing(model_id: str, condition: str):
        raise ModelLoadError(f"no {model_id} here")

    warm_up(Engine(engine.base, ControlNetStore(missing)), size=64, steps=1)
    assert "warm-up skipped: no lllyasviel/control_v11p_sd15_canny here" in caplog.text
