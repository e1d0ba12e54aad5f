"""Faults a real GPU produces (NaN in half precision, out of memory) become sentences or retries, never a stuck engine."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from pipelines.engine import Engine, GenerationError
from tests.pipelines.helpers import fail_once, make_request, nan_unless_float32, pixel_diff


@pytest.fixture
def own_engine() -> Engine:
    """A private engine: these tests break its components on purpose."""
    return Engine.load("tiny", device="cpu", taesd=False)


@pytest.fixture(scope="module")
def request_and_reference(control_image):
    """A request and its normal float32 image, from an untouched engine."""
    request = make_request(control_image, steps=3, seed=11)
    reference = Engine.load("tiny", device="cpu", taesd=False).generate(request).images[0]
    return request, reference


def test_nan_decode_in_low_precision_is_retried_in_float32(own_engine, request_and_reference, monkeypatch, caplog):
    request, reference = request_and_reference
    vae = own_engine.base.vae
    vae.to(torch.bfloat16)
    decode, calls = nan_unless_float32(vae)
    monkeypatch.setattr(vae, "decode", decode)
    with caplog.at_level(logging.WARNING, logger="pipelines.decode"):
        result = own_engine.generate(request)
    assert calls == [torch.bfloat16, torch.float32]
    image = np.asarray(result.images[0])
    assert image.max() > 0 and image.std() > 1  # not the black (or flat) image NaN turns into
    assert pixel_diff(result.images[0], reference) <= 2 / 255
    assert any("NaN" in r.getMessage() and "float32" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert vae.dtype == torch.bfloat16  # the retry does not leave the model converted
    assert not own_engine._lock.locked()


def test_nan_that_persists_in_float32_is_a_sentence(own_engine, request_and_reference, monkeypatch):
    request, reference = request_and_reference
    decode, _ = nan_unless_float32(own_engine.base.vae, always=True)
    monkeypatch.setattr(own_engine.base.vae, "decode", decode)
    with pytest.raises(GenerationError, match=r"invalid \(NaN\) image even in float32; try another seed"):
        own_engine.generate(request)
    assert not own_engine._lock.locked()
    monkeypatch.undo()
    assert pixel_diff(own_engine.generate(request).images[0], reference) == 0


def test_nan_latents_from_the_unet_are_a_sentence(own_engine, request_and_reference, monkeypatch):
    request, _ = request_and_reference
    unet = own_engine.base.unet
    original = unet.forward
    monkeypatch.setattr(unet, "forward", lambda *a, **k: (torch.full_like(original(*a, **k)[0], float("nan")),))
    with pytest.raises(GenerationError, match="NaN.*while denoising"):
        own_engine.generate(request)
    assert not own_engine._lock.locked()


@pytest.mark.parametrize("part", ["unet", "vae"])
def test_out_of_memory_once_is_a_sentence_and_the_next_job_runs(own_engine, request_and_reference, monkeypatch, part):
    request, reference = request_and_reference
    module = getattr(own_engine.base, part)
    oom = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    if part == "unet":  # the second denoising step, mid-job
        wrapper, calls = fail_once(module.forward, oom, on_call=2)
        monkeypatch.setattr(module, "forward", wrapper)
    else:
        wrapper, calls = fail_once(module.decode, oom)
        monkeypatch.setattr(module, "decode", wrapper)
    with pytest.raises(GenerationError) as error:
        own_engine.generate(request)
    message = str(error.value)
    assert "out of memory" in message and "smaller" in message and "Tried to allocate" not in message
    assert isinstance(error.value.__cause__, torch.OutOfMemoryError)
    assert not own_engine._lock.locked()
    after = own_engine.generate(request)  # the wrapper now passes through: the engine recovered
    assert len(calls) > (request.steps if part == "unet" else 1)
    assert pixel_diff(after.images[0], reference) == 0
    assert not own_engine._lock.locked()


def test_out_of_memory_evicts_idle_controlnets_and_renders_again(own_engine, request_and_reference, monkeypatch, caplog):
    """Resident ControlNets are a cache: short of memory, the ones the job does not use go, and the job still runs."""
    request, reference = request_and_reference
    own_engine.generate(make_request(request.units[0].image, conditions=("depth", "normal"), steps=1))
    assert set(own_engine.controlnets.resident()) >= {"lllyasviel/control_v11f1p_sd15_depth", "lllyasviel/control_v11p_sd15_normalbae"}
    unet = own_engine.base.unet
    wrapper, calls = fail_once(unet.forward, torch.OutOfMemoryError("CUDA out of memory"), on_call=2)
    monkeypatch.setattr(unet, "forward", wrapper)
    with caplog.at_level(logging.WARNING, logger="pipelines.engine"):
        result = own_engine.generate(request)
    assert pixel_diff(result.images[0], reference) == 0  # the second attempt is the same job from the start
    assert own_engine.controlnets.resident() == ["lllyasviel/control_v11p_sd15_canny"]
    assert len(calls) == 2 + request.steps and "evicted idle ControlNets" in caplog.text
    assert not own_engine._lock.locked()
