"""SDXL's real loading path, offline: the base by hub id (its architecture read from model_index.json), xinsir's union
repo giving its ProMax files, a lone ProMax file, a single-condition SDXL ControlNet, a single-file SDXL checkpoint,
and the refusal of a ControlNet made for the other architecture before its weights are read."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from pipelines.architectures import SDXL, SDXL_UNION
from pipelines.controlnets import CONTROLNET_MODELS
from pipelines.engine import Engine
from pipelines.loading import ModelLoadError
from pipelines.union_files import PROMAX_CONFIG, PROMAX_WEIGHTS
from tests.fakehub import add_file, add_folder
from tests.pipelines.conftest import perturb
from tests.pipelines.helpers import make_request
from tests.pipelines.ldm_sdxl import sdxl_to_ldm

SINGLE_CANNY = "xinsir/controlnet-canny-sdxl-1.0"


@dataclass(frozen=True)
class FakeXL:
    parts: object  # TinySDXLComponents whose (perturbed) weights the base repo holds
    base_snapshot: Path
    union_snapshot: Path
    single_snapshot: Path


@pytest.fixture(scope="module")
def fake_xl(hub_cache, tmp_path_factory) -> FakeXL:
    """The three SDXL repos as the hub lays them out, with perturbed tiny weights (so loaded = read from these files).
    The union repo holds the plain union model (six control types) under the usual names and ProMax under its own."""
    from diffusers import ControlNetUnionModel

    from pipelines.tiny_sdxl import build_single_controlnet, build_tiny_sdxl, build_union_controlnet, save_tiny_sdxl_base

    parts = build_tiny_sdxl()
    for seed, part in enumerate((parts.unet, parts.vae, parts.text_encoder, parts.text_encoder_2), start=300):
        perturb(part, seed)
    base = tmp_path_factory.mktemp("sdxl-base")
    save_tiny_sdxl_base(base, parts)
    union = tmp_path_factory.mktemp("union")
    plain = ControlNetUnionModel.from_config({**build_union_controlnet().config, "num_control_type": 6})
    plain.save_pretrained(union)
    promax = tmp_path_factory.mktemp("promax")
    perturb(build_union_controlnet(), 310).save_pretrained(promax)
    single = tmp_path_factory.mktemp("single")
    perturb(build_single_controlnet(), 320).save_pretrained(single)
    union_snapshot = add_folder(hub_cache, SDXL_UNION, union)
    add_file(hub_cache, SDXL_UNION, PROMAX_CONFIG, promax / "config.json")
    add_file(hub_cache, SDXL_UNION, PROMAX_WEIGHTS, promax / "diffusion_pytorch_model.safetensors")
    return FakeXL(parts, add_folder(hub_cache, SDXL.default_model, base), union_snapshot,
                  add_folder(hub_cache, SINGLE_CANNY, single))


@pytest.fixture(scope="module")
def xl_engine(fake_xl) -> Engine:
    return Engine.load(SDXL.default_model, device="cpu", taesd=False)


def _from_file(module: torch.nn.Module, file: Path) -> bool:
    saved = load_file(str(file))
    state = module.state_dict()
    return set(state) == set(saved) and all(torch.equal(state[k], saved[k]) for k in saved)


def test_sdxl_loads_by_hub_id_with_both_text_encoders_from_the_cache(xl_engine, fake_xl):
    base = xl_engine.base
    assert base.architecture is SDXL and base.force_zeros_for_empty_prompt
    for part, folder in ((base.unet, "unet"), (base.text_encoder_2, "text_encoder_2"), (base.vae, "vae")):
        weights = next((fake_xl.base_snapshot / folder).glob("*.safetensors"))
        assert _from_file(part, weights), f"{folder} is not the cached file's"


def test_the_union_repo_gives_its_promax_model(xl_engine, fake_xl, control_image):
    model_id, net = xl_engine.controlnets.get("depth")
    assert model_id == SDXL_UNION and net.config.num_control_type == 8  # ProMax, not the plain union model's 6
    assert _from_file(net, fake_xl.union_snapshot / PROMAX_WEIGHTS)
    result = xl_engine.generate(make_request(control_image, ("depth", "canny"), steps=2), save=False)
    assert [unit.model for unit in result.request.units] == [SDXL_UNION, SDXL_UNION]


def test_a_lone_promax_file_loads_as_the_union_model(xl_engine, fake_xl, tmp_path):
    file = tmp_path / "controlnet-union-promax.safetensors"
    file.write_bytes((fake_xl.union_snapshot / PROMAX_WEIGHTS).read_bytes())
    _, net = xl_engine.controlnets.get("openpose", str(file))
    assert net.config.num_control_type == 8 and _from_file(net, file)


def test_a_single_condition_sdxl_controlnet_loads_from_its_repo(xl_engine, fake_xl, control_image):
    request = make_request(control_image, ("canny",), steps=2)
    request = replace(request, units=(replace(request.units[0], model=SINGLE_CANNY),))
    result = xl_engine.generate(request, save=False)
    _, net = xl_engine.controlnets.get("canny", SINGLE_CANNY)
    assert type(net).__name__ == "ControlNetModel" and result.request.units[0].model == SINGLE_CANNY
    assert _from_file(net, next(fake_xl.single_snapshot.glob("*.safetensors")))


def test_an_sd15_controlnet_on_sdxl_is_refused_naming_both_before_its_weights(xl_engine, fake_models, control_image,
                                                                               monkeypatch):
    from diffusers import ControlNetModel

    weights_read = []
    real = ControlNetModel.from_pretrained.__func__
    monkeypatch.setattr(ControlNetModel, "from_pretrained",
                        classmethod(lambda cls, *args, **kwargs: weights_read.append(args) or real(cls, *args, **kwargs)))
    request = make_request(control_image, ("canny",), steps=2)
    request = replace(request, units=(replace(request.units[0], model=CONTROLNET_MODELS["canny"]),))
    steps = []
    with pytest.raises(ModelLoadError) as refused:
        xl_engine.generate(request, on_step=steps.append, save=False)
    message = str(refused.value)
    assert CONTROLNET_MODELS["canny"] in message and SDXL.default_model in message
    assert "made for SD1.5 models" in message and "is SDXL" in message
    assert steps == [] and weights_read == []  # refused on its config.json


def _holds(module: torch.nn.Module, state: dict[str, torch.Tensor]) -> bool:
    own = {k: v for k, v in module.state_dict().items() if not k.endswith("position_ids")}
    return all(k in state and torch.equal(v, state[k].to(v.dtype)) for k, v in own.items())


def test_a_single_file_sdxl_checkpoint_loads_as_sdxl(fake_xl, tmp_path):
    """The original single-file layout (as SDXL checkpoints are shared); its configs come from SDXL's repo in the
    cache, its numbers from the file."""
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint, convert_open_clip_checkpoint

    parts = fake_xl.parts
    ldm = sdxl_to_ldm(parts)
    # the writer is the inverse of diffusers' own converters, so a wrong key cannot slip through
    assert _holds(parts.unet, convert_ldm_unet_checkpoint(ldm, dict(parts.unet.config)))
    assert _holds(parts.text_encoder_2, convert_open_clip_checkpoint(parts.text_encoder_2, ldm,
                                                                     prefix="conditioner.embedders.1.model."))
    checkpoint = tmp_path / "my-sdxl-finetune.safetensors"
    save_file(ldm, str(checkpoint))
    base = Engine.load(str(checkpoint), device="cpu", taesd=False).base
    assert base.architecture is SDXL and base.name == str(checkpoint)
    for loaded, saved in ((base.unet, parts.unet), (base.text_encoder, parts.text_encoder),
                          (base.text_encoder_2, parts.text_encoder_2), (base.vae, parts.vae)):
        assert _holds(loaded, saved.state_dict()), type(saved).__name__
