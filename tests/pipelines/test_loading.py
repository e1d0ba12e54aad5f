"""The real loading path, offline: hub ids from the cache, local folders, single files, and refusals."""

from __future__ import annotations

import pickle

import pytest
import torch
from safetensors.torch import load_file, save_file

from pipelines.controlnets import CONTROLNET_MODELS, load_controlnet
from pipelines.engine import Engine
from pipelines.loading import DEFAULT_MODEL, ModelLoadError, load_base, resolve_device
from pipelines.tiny import build_controlnet, build_unet
from tests.pipelines.helpers import make_request
from tests.pipelines.ldm_checkpoint import controlnet_to_ldm, to_ldm
from tests.security.helpers import Payload

CPU = torch.device("cpu")


def _same_weights(module: torch.nn.Module, reference: dict[str, torch.Tensor]) -> bool:
    state = module.state_dict()
    return set(state) == set(reference) and all(torch.equal(state[k], reference[k].to(state[k].dtype)) for k in reference)


def _assert_is_saved_base(engine: Engine, fake_models) -> None:
    saved = fake_models.components
    for loaded, original in ((engine.base.unet, saved.unet), (engine.base.vae, saved.vae), (engine.base.text_encoder, saved.text_encoder)):
        assert _same_weights(loaded, original.state_dict())
    fresh = build_unet()  # the seeded tiny UNet: same architecture, different numbers
    assert not torch.equal(engine.base.unet.conv_in.weight, fresh.conv_in.weight)


def test_base_model_and_controlnet_load_by_hub_id_from_the_cache(fake_models, control_image):
    engine = Engine.load(DEFAULT_MODEL, device="cpu", taesd=False)
    assert engine.base.name == DEFAULT_MODEL and not engine.base.is_tiny
    on_disk = load_file(str(fake_models.base_snapshot / "unet" / "diffusion_pytorch_model.safetensors"))
    assert torch.equal(engine.base.unet.conv_in.weight, on_disk["conv_in.weight"])
    _assert_is_saved_base(engine, fake_models)
    assert engine.base.scheduler_config["_class_name"] == "PNDMScheduler"
    assert engine.base.tokenizer("a cat").input_ids[0] == engine.base.tokenizer.bos_token_id

    model_id, net = engine.controlnets.get("canny")
    assert model_id == CONTROLNET_MODELS["canny"]
    saved = load_file(str(fake_models.canny_snapshot / "diffusion_pytorch_model.safetensors"))
    assert _same_weights(net, saved)
    assert not torch.equal(net.controlnet_mid_block.weight, build_controlnet("canny").controlnet_mid_block.weight)

    result = engine.generate(make_request(control_image, steps=2))
    assert result.images[0].size == (64, 64)
    assert f"Model: {DEFAULT_MODEL}" in result.infotexts[0] and "control_v11p_sd15_canny" in result.infotexts[0]


def test_fp16_variant_files_are_what_cuda_loads(fake_models):
    """In fp16 (CUDA, or CPU-resident weights offloaded to CUDA) the loader asks for variant="fp16", as the real repo has."""
    from diffusers import StableDiffusionPipeline

    from pipelines.loading import _from_hub

    common = dict(torch_dtype=torch.float16, safety_checker=None, requires_safety_checker=False)
    pipe = _from_hub(DEFAULT_MODEL, StableDiffusionPipeline, common)
    half = load_file(str(fake_models.base_snapshot / "unet" / "diffusion_pytorch_model.fp16.safetensors"))
    assert half["conv_in.weight"].dtype == torch.float16
    assert pipe.unet.dtype == torch.float16 and torch.equal(pipe.unet.conv_in.weight, half["conv_in.weight"])


def test_base_model_from_a_local_diffusers_folder(fake_models):
    base = load_base(str(fake_models.base_folder), CPU, torch.float32)
    assert base.name == str(fake_models.base_folder)
    assert _same_weights(base.unet, fake_models.components.unet.state_dict())


def test_base_model_from_a_single_safetensors_checkpoint(fake_models, tmp_path):
    """An original-SD (LDM-key) checkpoint; diffusers takes the configs from the SD1.5 repo in the cache."""
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint, convert_ldm_vae_checkpoint

    saved = fake_models.components
    ldm = to_ldm(saved.unet, saved.vae, saved.text_encoder)
    assert "model.diffusion_model.input_blocks.0.0.weight" in ldm and "first_stage_model.decoder.up.0.block.0.conv1.weight" in ldm
    # the writer is the inverse of diffusers' own converter, so a wrong key cannot slip through
    assert _same_weights(saved.unet, convert_ldm_unet_checkpoint(ldm, dict(saved.unet.config)))
    assert _same_weights(saved.vae, convert_ldm_vae_checkpoint(ldm, dict(saved.vae.config)))
    checkpoint = tmp_path / "tiny-sd15.safetensors"
    save_file(ldm, str(checkpoint))

    engine = Engine.load(str(checkpoint), device="cpu", taesd=False)
    assert engine.base.name == str(checkpoint)
    _assert_is_saved_base(engine, fake_models)


def test_controlnet_from_a_single_safetensors_file(fake_models, tmp_path):
    """A1111-style `control_model.*` file; the config comes from the condition's v1.1 repo in the cache."""
    net = build_controlnet("depth")  # other numbers than the canny repo's, so the file is what loaded
    path = tmp_path / "my_canny.safetensors"
    save_file(controlnet_to_ldm(net), str(path))
    loaded = load_controlnet(str(path), "canny", CPU, torch.float32)
    assert _same_weights(loaded, net.state_dict())
    assert not torch.equal(loaded.controlnet_mid_block.weight, fake_models.canny.controlnet_mid_block.weight)


def test_controlnet_from_a_local_folder_through_the_engine(tmp_path, engine):
    net = build_controlnet("normal")
    net.save_pretrained(tmp_path / "mine")
    model_id, loaded = engine.controlnets.get("canny", str(tmp_path / "mine"))
    assert model_id == str(tmp_path / "mine") and _same_weights(loaded, net.state_dict())


def test_the_pickle_payload_is_live(tmp_path):
    """So the refusals below prove something: unpickling this payload does create its marker."""
    pickle.loads(pickle.dumps(Payload(tmp_path / "control")))
    assert (tmp_path / "control").exists()


@pytest.mark.parametrize("suffix", [".ckpt", ".bin", ".pt", ".PTH"])
def test_pickle_checkpoints_are_refused_unopened(tmp_path, suffix):
    marker = tmp_path / "pwned"
    path = tmp_path / f"model{suffix}"
    path.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(ModelLoadError, match=r"\.safetensors") as base_error:
        Engine.load(str(path), device="cpu")
    with pytest.raises(ModelLoadError, match=r"\.safetensors"):
        load_controlnet(str(path), "canny", CPU, torch.float32)
    assert str(path) in str(base_error.value)
    assert not marker.exists()


def test_a_pickle_renamed_to_safetensors_is_not_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(ModelLoadError):
        Engine.load(str(path), device="cpu")
    assert not marker.exists()


def test_a_model_missing_from_the_cache_gives_a_fixable_sentence():
    with pytest.raises(ModelLoadError) as error:
        Engine.load("someone/not-downloaded", device="cpu")
    message = str(error.value)
    assert "someone/not-downloaded" in message and "--model tiny" in message
    assert "Traceback" not in message and 'File "' not in message and "\n" not in message


def test_a_controlnet_missing_from_the_cache_names_it():
    with pytest.raises(ModelLoadError) as error:
        load_controlnet("someone/missing-controlnet", "depth", CPU, torch.float32)
    assert str(error.value) == ("The ControlNet someone/missing-controlnet for depth is not downloaded and this server is "
                                "offline. Fetch it with `hf download someone/missing-controlnet`, or choose another ControlNet.")


def test_a_missing_local_file_says_so(tmp_path):
    with pytest.raises(ModelLoadError, match="No model file or folder"):
        Engine.load(str(tmp_path / "absent.safetensors"), device="cpu")


def test_device_resolution():
    assert resolve_device("cpu") == (torch.device("cpu"), torch.float32)
    with pytest.raises(ModelLoadError, match="Unknown device 'tpu9'"):
        resolve_device("tpu9")
    with pytest.raises(ModelLoadError, match="Unknown device"):
        Engine.load("tiny", device="gpu")

