"""Faults while serving: out of memory, NaN, crashing jobs, hostile model files, an unwritable outputs folder.

Faults that need a broken model part run against the real Blocks app (`ui.layout.build_demo`) served in this
process on 127.0.0.1, around an Engine whose parts are patched; the engine-level variants live in
tests/pipelines/test_faults.py. File-system faults run against app.py itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from gradio_client import Client
from PIL import Image

from pipelines.engine import Engine
from pipelines.lazy import LazyEngine
from preprocessors import Preprocessors
from serving import LocalBackend
from studio import Studio
from tests.pipelines.helpers import fail_once, nan_unless_float32
from tests.security.helpers import assert_still_generates, error_text, wait_until_drained
from tests.server import free_port
from ui.layout import build_demo

pytestmark = pytest.mark.server


@dataclass
class InProcessApp:
    engine: Engine
    client: Client
    url: str


@pytest.fixture(scope="module")
def inprocess():
    """The real page and API around an engine this test can break on purpose."""
    engine = Engine.load("tiny", device="cpu", taesd=False)
    lazy = LazyEngine("tiny", lambda model: engine)
    lazy.start().join(timeout=60)
    studio = Studio(LocalBackend(lazy, Preprocessors(device="cpu", offline=True)), engine.limits, [])
    demo = build_demo(studio, queue_size=8)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, enable_monitoring=False,
                ssr_mode=False, show_error=False, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        yield InProcessApp(engine, Client(url, verbose=False), url)
    finally:
        demo.close()


@pytest.fixture(scope="module")
def reference(inprocess, small_job) -> np.ndarray:
    """The image the small job makes on the untouched engine."""
    return _pixels(inprocess.client.predict(**small_job, api_name="/generate"))


def _pixels(result) -> np.ndarray:
    return np.asarray(Image.open(result[0][0]).convert("RGB")).astype(int)


def _assert_recovers(inprocess, small_job, reference) -> None:
    """The lock is free, the queue empty, and the very same job now gives the very same image."""
    assert not inprocess.engine._lock.locked()
    assert np.array_equal(_pixels(inprocess.client.predict(**small_job, api_name="/generate")), reference)
    wait_until_drained(inprocess.url)


@pytest.mark.parametrize("part", ["denoise", "decode"])
def test_out_of_memory_is_a_sentence_and_the_next_job_runs(inprocess, small_job, reference, monkeypatch, part):
    """Hazard: GPU out of memory (during denoising, during VAE decode) wedging the engine or killing the server."""
    oom = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (injected)")
    if part == "denoise":
        unet = inprocess.engine.base.unet
        monkeypatch.setattr(unet, "forward", fail_once(unet.forward, oom)[0])
    else:
        vae = inprocess.engine.base.vae
        monkeypatch.setattr(vae, "decode", fail_once(vae.decode, oom)[0])
    with pytest.raises(Exception) as caught:
        inprocess.client.predict(**small_job, api_name="/generate")
    assert "ran out of memory" in error_text(caught.value)
    _assert_recovers(inprocess, small_job, reference)


def test_an_exception_inside_a_job_never_blocks_the_queue(inprocess, small_job, reference, monkeypatch, caplog):
    """Hazard: an unexpected bug in one job blocking every later job. The caller gets a generic sentence (details
    only in the server log) and the next job runs."""
    unet = inprocess.engine.base.unet
    monkeypatch.setattr(unet, "forward", fail_once(unet.forward, RuntimeError("shape mismatch deep inside (injected)"))[0])
    with caplog.at_level(logging.ERROR, logger="ui.errors"):
        with pytest.raises(Exception) as caught:
            inprocess.client.predict(**small_job, api_name="/generate")
    message = error_text(caught.value)
    assert "Something went wrong" in message and "injected" not in message
    assert any("injected" in (record.exc_text or str(record.exc_info)) for record in caplog.records)
    _assert_recovers(inprocess, small_job, reference)


def test_nan_from_the_unet_is_a_sentence_not_a_black_image(inprocess, small_job, reference, monkeypatch):
    """Hazard: NaN latents (fp16 overflow) silently decoded to a black image."""
    unet = inprocess.engine.base.unet
    original = unet.forward

    def nan_forward(*args, **kwargs):
        noise = original(*args, **kwargs)[0]
        return (torch.full_like(noise, float("nan")),)

    monkeypatch.setattr(unet, "forward", nan_forward)
    with pytest.raises(Exception) as caught:
        inprocess.client.predict(**small_job, api_name="/generate")
    assert "invalid values (NaN)" in error_text(caught.value)
    monkeypatch.undo()
    _assert_recovers(inprocess, small_job, reference)


@pytest.fixture
def low_precision_vae(inprocess):
    """The VAE in bfloat16 (as on a GPU), its float32 weights restored afterwards."""
    vae = inprocess.engine.base.vae
    saved = {name: tensor.clone() for name, tensor in vae.state_dict().items()}
    vae.to(torch.bfloat16)
    yield vae
    vae.to(torch.float32)
    vae.load_state_dict(saved)


def test_nan_from_the_vae_is_retried_in_float32(inprocess, small_job, reference, low_precision_vae, monkeypatch):
    """Hazard: the half-precision VAE's NaN decode returned as a black image. It is decoded again in float32."""
    monkeypatch.setattr(low_precision_vae, "decode", nan_unless_float32(low_precision_vae)[0])
    pixels = _pixels(inprocess.client.predict(**small_job, api_name="/generate"))
    assert pixels.std() > 1 and pixels.max() > 0, "a flat/black image came back"
    assert np.abs(pixels - reference).mean() < 4
    assert low_precision_vae.dtype == torch.bfloat16


def test_nan_from_the_vae_even_in_float32_is_a_sentence(inprocess, small_job, low_precision_vae, monkeypatch):
    """Hazard: persistent NaN decode returned as a black image."""
    monkeypatch.setattr(low_precision_vae, "decode", nan_unless_float32(low_precision_vae, always=True)[0])
    with pytest.raises(Exception) as caught:
        inprocess.client.predict(**small_job, api_name="/generate")
    assert "invalid (NaN) image even in float32" in error_text(caught.value)
    assert not inprocess.engine._lock.locked()


HOSTILE_MODELS = {
    "evil.ckpt": "pickle checkpoint",
    "evil.pt": "pickle checkpoint",
    "pickle-named.safetensors": "damaged or not a diffusers ControlNet",
    "corrupt.safetensors": "damaged or not a diffusers ControlNet",
    "bin-only": "damaged or not a diffusers ControlNet",
    "no-weights": "damaged or not a diffusers ControlNet",
    "missing.safetensors": "No ControlNet file or folder",
}


@pytest.mark.parametrize("name", list(HOSTILE_MODELS))
def test_hostile_or_broken_model_files_are_refused_and_nothing_runs(client, small_job, models_dir, marker, name):
    """Hazard: code execution or a wedged engine from a user-chosen ControlNet (pickle with a payload, a pickle named
    .safetensors, a folder with only a pickled .bin, a corrupt safetensors header, a missing weight file).
    Refused with a sentence; the payload never runs; the lock is released, so the next job runs."""
    with pytest.raises(Exception) as caught:
        client.predict(**{**small_job, "model": str(models_dir / name)}, api_name="/generate")
    assert HOSTILE_MODELS[name] in error_text(caught.value)
    assert not marker.exists(), "a pickle payload was executed"
    assert_still_generates(client, small_job)


def test_unwritable_outputs_folder_still_returns_images_and_logs_once(short_lived, small_job):
    """Hazard: a read-only or full disk losing results or spamming the log. With --outputs under a *file* (mkdir fails
    even for root) every image still reaches the caller and the failure is logged once."""
    client = Client(short_lived.url, verbose=False)
    for seed in (1, 2, 3):
        images, _, infotext = client.predict(**{**small_job, "seed": seed}, api_name="/generate")
        assert Image.open(images[0]).size == (64, 64) and f"Seed: {seed}" in infotext
    assert short_lived.log().count("Could not save images") == 1
