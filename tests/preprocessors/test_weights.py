"""Weight-needing preprocessors through their real loading code, offline, from a fake hub cache."""

from __future__ import annotations

import operator
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import numpy as np
import pytest
import torch
from huggingface_hub import hf_hub_download
from PIL import Image

from preprocessors import PreprocessorError, Preprocessors, detectors, get_spec, names

WEIGHTED = [name for name in names() if get_spec(name).weights is not None]
ANNOTATORS = "lllyasviel/Annotators"


@pytest.mark.parametrize("name", WEIGHTED)
def test_each_weighted_preprocessor_returns_an_rgb_map(runner, astronaut, name):
    wide = astronaut.resize((180, 120))
    result = runner.run(name, wide, processor_res=96)
    pixels = np.asarray(result)
    assert result.mode == "RGB" and result.size == (144, 96) and pixels.dtype == np.uint8
    if get_spec(name).family == "Depth":  # 8-bit grey replicated to RGB, as the depth ControlNet expects
        assert np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(pixels[..., 0], pixels[..., 2])


def _saved(repo: str, filename: str) -> dict:
    state = torch.load(hf_hub_download(repo, filename, local_files_only=True), map_location="cpu", weights_only=True)
    return state.get("state_dict") or state.get("model") or state


# (preprocessor, network inside the detector, repo, file, key in the file, key in the network)
PROOFS = [
    ("softedge_hed", "netNetwork", ANNOTATORS, "ControlNetHED.pth", "block1.convs.0.weight", None),
    ("softedge_pidinet", "netNetwork", ANNOTATORS, "table5_pidinet.pth", "module.init_block.weight", "init_block.weight"),
    ("softedge_teed", "model", "fal-ai/teed", "5_model.pth", "block_cat.DWconv2.weight", None),
    ("lineart_realistic", "model", ANNOTATORS, "sk_model.pth", "model0.1.weight", None),
    ("lineart_coarse", "model_coarse", ANNOTATORS, "sk_model2.pth", "model0.1.weight", None),
    ("lineart_anime", "model", ANNOTATORS, "netG.pth", "model.model.0.weight", None),
    ("lineart_anime_denoise", "model", ANNOTATORS, "erika.pth", "block4.model.11.conv1.model.2.weight", None),
    ("openpose", "body_estimation.model", ANNOTATORS, "body_pose_model.pth", "conv1_1.weight", "model0.conv1_1.weight"),
    ("openpose_hand", "hand_estimation.model", ANNOTATORS, "hand_pose_model.pth", "Mconv7_stage6.weight",
     "model6.Mconv7_stage6.weight"),
    ("openpose_face", "face_estimation.model", ANNOTATORS, "facenet.pth", "Mconv7_stage6.weight", None),
    ("depth_midas", "model", ANNOTATORS, "dpt_hybrid-midas-501f0c75.pt", "scratch.output_conv.4.weight",
     "model.scratch.output_conv.4.weight"),
    ("depth_zoe", "model", ANNOTATORS, "ZoeD_M12_N.pt", "conditional_log_binomial.mlp.0.weight", None),
    ("normal_bae", "model", ANNOTATORS, "scannet.pt", "decoder.conv2.weight", None),
    ("mlsd", "model", ANNOTATORS, "mlsd_large_512_fp32.pth", "block23.conv3.weight", None),
]


def test_every_weight_file_has_a_proof():
    files = {(spec.weights.repo, f) for spec in map(get_spec, WEIGHTED) for f in spec.weights.filenames
             if not f.endswith(".json")}
    assert files == {(repo, f) for _, _, repo, f, _, _ in PROOFS} | {
        ("depth-anything/Depth-Anything-V2-Small-hf", "model.safetensors"),  # the proofs below
        ("openmmlab/upernet-convnext-small", "pytorch_model.bin"),  # test_segment.py
        ("yzd-v/DWPose", "yolox_l.onnx"), ("yzd-v/DWPose", "dw-ll_ucoco_384.onnx")}  # test_dwpose.py


@pytest.mark.parametrize("name,network,repo,filename,saved_key,loaded_key", PROOFS, ids=[p[3] for p in PROOFS])
def test_weights_come_from_the_cache_file(runner, name, network, repo, filename, saved_key, loaded_key):
    runner.load(name)
    detector = runner._detectors[get_spec(name).detector]
    loaded = dict(operator.attrgetter(network)(detector).named_parameters())[loaded_key or saved_key]
    saved = _saved(repo, filename)[saved_key]
    assert saved.dtype == torch.float16  # the fake files are fp16; loading casts to the network's fp32
    assert loaded.dtype == torch.float32 and torch.equal(loaded.detach().cpu(), saved.float())


def test_depth_anything_loads_from_its_cache_files(runner):
    from safetensors.torch import load_file

    runner.load("depth_anything_v2")
    _, model = runner._detectors["depth_anything"]
    saved = load_file(hf_hub_download("depth-anything/Depth-Anything-V2-Small-hf", "model.safetensors", local_files_only=True))
    key = next(k for k in saved if k.endswith("head.conv1.weight"))
    assert torch.equal(model.state_dict()[key], saved[key])


class _Batch(dict):
    def to(self, device):
        return self


class _NearerToTheRight(torch.nn.Module):
    """Stands in for the network: relative output is inverse depth, rising left to right."""

    device = torch.device("cpu")

    def forward(self, pixel_values):
        height, width = pixel_values.shape[-2:]
        return mock.Mock(predicted_depth=torch.linspace(1.0, 5.0, width).expand(1, height, width))


def test_depth_anything_renders_near_as_bright():
    def processor(images, return_tensors):
        return _Batch(pixel_values=torch.zeros(1, 3, 70, 98))

    picture = Image.new("RGB", (140, 100), "grey")
    result = detectors.ADAPTERS["depth_anything"].run((processor, _NearerToTheRight()), picture, 100, None, None)
    grey = np.asarray(result)[..., 0].astype(int)
    assert grey.shape == (100, 140) and grey[:, 0].max() == 0 and grey[:, -1].min() == 255
    assert (np.diff(grey, axis=1) >= 0).all()


def test_status_tracks_loading(runner):
    runner.load("softedge_hed")
    states = {row.name: row for row in runner.status()}
    assert states["softedge_hed"].state == "ready" and states["softedge_hedsafe"].state == "ready"
    assert states["canny"].state == "no weights needed" and states["invert"].state == "no weights needed"
    fresh = {row.name: row for row in Preprocessors(offline=True).status()}
    assert fresh["softedge_hed"].state == "not loaded" and fresh["softedge_hed"].command == ""


def test_missing_weights_are_one_sentence_with_the_fix(tmp_path, astronaut, monkeypatch):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    empty = Preprocessors(offline=True)
    with pytest.raises(PreprocessorError) as caught:
        empty.run("softedge_hed", astronaut, 64)
    message = str(caught.value)
    assert message == ("The weights lllyasviel/Annotators/ControlNetHED.pth are not downloaded and this server is offline; "
                       "fetch them with `hf download lllyasviel/Annotators ControlNetHED.pth`.")
    states = {row.name: row for row in empty.status()}
    assert states["softedge_hed"].state == "missing" and states["softedge_hed"].files == ("ControlNetHED.pth",)
    assert states["softedge_hed"].command == "hf download lllyasviel/Annotators ControlNetHED.pth"


def test_status_names_only_the_files_that_are_missing(tmp_path, monkeypatch):
    from tests.fakehub import add_file

    add_file(tmp_path, ANNOTATORS, "body_pose_model.pth", b"body")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    row = {row.name: row for row in Preprocessors(offline=True).status()}["openpose_full"]
    assert row.state == "missing" and row.files == ("hand_pose_model.pth", "facenet.pth")
    assert row.command == "hf download lllyasviel/Annotators hand_pose_model.pth facenet.pth"


def test_offline_mode_never_asks_the_network(astronaut, annotators_ready, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = Preprocessors(offline=False)  # the environment wins: HF_HUB_OFFLINE=1 means offline
    assert offline.offline is True
    with mock.patch("huggingface_hub.hf_hub_download", wraps=hf_hub_download) as spy:
        offline.run("softedge_pidinet", astronaut, 64)
    assert spy.call_count == 1
    assert spy.call_args.kwargs["local_files_only"] is True


def test_concurrent_first_use_loads_once_and_unload_reloads(astronaut, annotators_ready):
    fresh = Preprocessors(offline=True, cache_entries=0)
    original = detectors.ADAPTERS["lineart"].load
    calls = []

    def counting(folder, device):
        calls.append(folder)
        return original(folder, device)

    with mock.patch.dict(detectors.ADAPTERS, {"lineart": detectors.Adapter(counting, detectors.ADAPTERS["lineart"].run)}):
        with ThreadPoolExecutor(4) as pool:
            maps = list(pool.map(lambda _: fresh.run("lineart_realistic", astronaut, 64), range(4)))
        assert len(calls) == 1
        fresh.unload()
        assert fresh._detectors == {}
        again = fresh.run("lineart_realistic", astronaut, 64)
    assert len(calls) == 2 and calls[0] == calls[1]
    assert all(np.array_equal(np.asarray(maps[0]), np.asarray(other)) for other in maps + [again])


def test_a_damaged_weight_file_is_a_sentence_with_the_fix(tmp_path, astronaut, monkeypatch):
    from tests.fakehub import add_file

    for filename in get_spec("dw_openpose_full").weights.filenames:
        add_file(tmp_path, "yzd-v/DWPose", filename, b"<html>a proxy's error page, not ONNX</html>")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(PreprocessorError) as caught:
        Preprocessors(offline=True).run("dw_openpose_full", astronaut, 64)
    message = str(caught.value)
    assert message.startswith("The weights of dw_openpose_full in ") and "could not be read; they may be damaged" in message
    assert message.endswith("fetch them again with `hf download yzd-v/DWPose yolox_l.onnx dw-ll_ucoco_384.onnx "
                            "--force-download`.")
