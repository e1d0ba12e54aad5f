"""Weight-needing preprocessors through their real loading code, offline, from a fake hub cache."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
import torch
from huggingface_hub import hf_hub_download

from preprocessors import PreprocessorError, Preprocessors, get_spec, names

WEIGHTED = [name for name in names() if get_spec(name).weights is not None]
FAST_RES = 96


@pytest.mark.parametrize("name", WEIGHTED)
def test_each_weighted_preprocessor_returns_an_rgb_map(runner, astronaut, name):
    wide = astronaut.resize((180, 120))
    result = runner.run(name, wide, processor_res=FAST_RES)
    assert result.mode == "RGB" and result.size == (144, 96)
    assert np.asarray(result).dtype == np.uint8


def _saved(repo: str, filename: str) -> dict:
    state = torch.load(hf_hub_download(repo, filename, local_files_only=True), map_location="cpu", weights_only=True)
    return state.get("state_dict") or state.get("model") or state


@pytest.mark.parametrize("name,attribute,filename,key", [
    ("softedge_hed", "netNetwork", "ControlNetHED.pth", "block1.convs.0.weight"),
    ("softedge_pidinet", "netNetwork", "table5_pidinet.pth", "module.init_block.weight"),
    ("lineart_realistic", "model", "sk_model.pth", "model0.1.weight"),
    ("lineart_anime", "model", "netG.pth", "model.model.0.weight"),
    ("normal_bae", "model", "scannet.pt", "decoder.conv2.weight"),
    ("depth_zoe", "model", "ZoeD_M12_N.pt", "conditional_log_binomial.mlp.0.weight"),
])
def test_weights_come_from_the_cache_file(runner, astronaut, name, attribute, filename, key):
    runner.run(name, astronaut, processor_res=64)
    detector = runner._detectors[get_spec(name).detector]
    saved = _saved("lllyasviel/Annotators", filename)
    loaded = dict(getattr(detector, attribute).named_parameters())
    loaded_key = key.removeprefix("module.")
    assert torch.equal(loaded[loaded_key].detach().cpu(), saved[key])


def test_openpose_and_depth_anything_load_from_their_cache_files(runner, astronaut):
    runner.run("openpose_full", astronaut, processor_res=64)
    pose = runner._detectors["openpose"]
    body = _saved("lllyasviel/Annotators", "body_pose_model.pth")
    assert torch.equal(pose.body_estimation.model.model0.conv1_1.weight.detach().cpu(), body["conv1_1.weight"])
    runner.run("depth_anything_v2", astronaut, processor_res=64)
    _, model = runner._detectors["depth_anything"]
    from safetensors.torch import load_file

    saved = load_file(hf_hub_download("depth-anything/Depth-Anything-V2-Small-hf", "model.safetensors", local_files_only=True))
    key = next(k for k in saved if k.endswith("head.conv1.weight"))
    assert torch.equal(model.state_dict()[key], saved[key])


def test_depth_maps_are_near_bright(runner):
    """A left-to-right ramp of 'nearness' must not come out all flat; Depth Anything output is min-max scaled."""
    from PIL import Image

    gradient = Image.fromarray(np.tile(np.linspace(0, 255, 128, dtype=np.uint8), (96, 1))).convert("RGB")
    result = np.asarray(runner.run("depth_anything_v2", gradient, processor_res=96).convert("L"))
    assert result.min() == 0 and result.max() == 255


def test_missing_weights_are_one_sentence_with_the_fix(tmp_path, astronaut, monkeypatch):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    empty = Preprocessors(offline=True)
    with pytest.raises(PreprocessorError) as caught:
        empty.run("softedge_hed", astronaut, 64)
    message = str(caught.value)
    assert message.count(".") >= 1 and "\n" not in message
    assert "lllyasviel/Annotators/ControlNetHED.pth" in message and "hf download lllyasviel/Annotators ControlNetHED.pth" in message
    states = {row.name: row for row in empty.status()}
    assert states["softedge_hed"].state == "missing" and states["canny"].state == "no weights needed"
    assert states["softedge_hed"].command == "hf download lllyasviel/Annotators ControlNetHED.pth"


def test_offline_mode_never_asks_the_network(astronaut, annotators_ready):
    offline = Preprocessors(offline=True)
    with mock.patch("huggingface_hub.hf_hub_download", wraps=hf_hub_download) as spy:
        offline.run("softedge_pidinet", astronaut, 64)
    assert spy.call_count >= 1
    assert all(call.kwargs.get("local_files_only") is True for call in spy.call_args_list)


def test_concurrent_first_use_loads_once(astronaut, annotators_ready):
    from concurrent.futures import ThreadPoolExecutor

    fresh = Preprocessors(offline=True, cache_entries=0)
    from preprocessors import detectors

    original = detectors.ADAPTERS["lineart"].load
    calls = []

    def counting(folder, device):
        calls.append(folder)
        return original(folder, device)

    with mock.patch.dict(detectors.ADAPTERS, {"lineart": detectors.Adapter(counting, detectors.ADAPTERS["lineart"].run)}):
        with ThreadPoolExecutor(4) as pool:
            maps = list(pool.map(lambda _: fresh.run("lineart_realistic", astronaut, 64), range(4)))
    assert len(calls) == 1
    assert all(np.array_equal(np.asarray(maps[0]), np.asarray(other)) for other in maps)
