"""Build a fake `lllyasviel/Annotators` (and Depth Anything, TEED, UperNet, DWPose) hub cache: the real detector networks with
seeded random weights, saved under the real file names, so the real loading code runs offline.

Floating tensors are stored as fp16 (as the real ControlNetHED.pth is): every loader goes through
`load_state_dict`, which casts to the network's fp32, and the cache is half the size (about 1.5 GB, ~25 s).
"""

from __future__ import annotations

import functools
import io
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

from preprocessors.registry import ANNOTATORS, DEPTH_ANYTHING, TEED_REPO, UPERNET
from tests.dwpose_files import build_dwpose_files
from tests.fakehub import add_file, add_folder, snapshot_dir

TEED = (TEED_REPO, "5_model.pth")


BUILD_VERSION = "5: fp16, erika.pth, full-size Depth Anything V2 Small, M-LSD, UperNet ConvNeXt-small, DWPose ONNX"  # change when the layout changes, so stale caches are rebuilt


def _half(state):
    """fp16 copies of floating tensors (nested dicts kept), integer buffers untouched."""
    if isinstance(state, dict):
        return {key: _half(value) for key, value in state.items()}
    return state.half() if torch.is_tensor(state) and state.is_floating_point() else state


def _save(cache: Path, repo: str, filename: str, state: dict) -> None:
    buffer = io.BytesIO()
    torch.save(_half(state), buffer)
    add_file(cache, repo, filename, buffer.getvalue())


def _original_names(state: dict) -> dict:
    """OpenPose files use the original Caffe-port names (`conv1_1.weight`), without the block prefix."""
    return {key.split(".", 1)[1]: value for key, value in state.items()}


def _networks() -> dict[str, Callable[[], dict]]:
    """Real file name -> a function building the state dict the loader expects."""
    def hed():
        from controlnet_aux.hed import ControlNetHED_Apache2
        return ControlNetHED_Apache2().state_dict()

    def pidinet():
        from controlnet_aux.pidi.model import pidinet
        return {"state_dict": {f"module.{k}": v for k, v in pidinet().state_dict().items()}}

    def lineart():
        from controlnet_aux.lineart import Generator
        return Generator(3, 1, 3).state_dict()

    def anime():
        from controlnet_aux.lineart_anime import UnetGenerator
        from torch import nn
        norm = functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
        return UnetGenerator(3, 1, 8, 64, norm_layer=norm, use_dropout=False).state_dict()

    def body():
        from controlnet_aux.open_pose.model import bodypose_model
        return _original_names(bodypose_model().state_dict())

    def hand():
        from controlnet_aux.open_pose.model import handpose_model
        return _original_names(handpose_model().state_dict())

    def face():
        from controlnet_aux.open_pose.face import FaceNet
        return FaceNet().state_dict()

    def mlsd():
        from controlnet_aux.mlsd.models.mbv2_mlsd_large import MobileV2_MLSD_Large
        return MobileV2_MLSD_Large().state_dict()

    def midas():
        from controlnet_aux.midas.midas.dpt_depth import DPTDepthModel
        return DPTDepthModel(path=None, backbone="vitb_rn50_384", non_negative=True).state_dict()

    def normal():
        import types

        from controlnet_aux.normalbae.nets.NNET import NNET
        args = types.SimpleNamespace(mode="client", architecture="BN", pretrained="scannet", sampling_ratio=0.4, importance_ratio=0.7)
        return {"model": NNET(args).state_dict()}

    def manga_line():
        from preprocessors.manga_line import MangaLineNet
        return MangaLineNet().state_dict()

    def zoe():
        from controlnet_aux.zoe.zoedepth.models.zoedepth import ZoeDepth
        from controlnet_aux.zoe.zoedepth.utils.config import get_config
        return {"model": ZoeDepth.build_from_config(get_config("zoedepth", "infer")).state_dict()}

    return {"ControlNetHED.pth": hed, "table5_pidinet.pth": pidinet, "sk_model.pth": lineart, "sk_model2.pth": lineart,
            "netG.pth": anime, "erika.pth": manga_line, "mlsd_large_512_fp32.pth": mlsd, "body_pose_model.pth": body,
            "hand_pose_model.pth": hand, "facenet.pth": face,
            "dpt_hybrid-midas-501f0c75.pt": midas, "scannet.pt": normal, "ZoeD_M12_N.pt": zoe}



def _teed_state() -> dict:
    from controlnet_aux.teed.ted import TED
    return TED().state_dict()


def _depth_anything(folder: Path) -> None:
    """Depth-Anything-V2-Small's real configuration (24.8 M parameters, as the hub repo); the processor config is the repo's."""
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    backbone = Dinov2Config(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536, patch_size=14,
                            image_size=518, out_indices=[3, 6, 9, 12], reshape_hidden_states=False)
    config = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=384, neck_hidden_sizes=[48, 96, 192, 384],
                                 fusion_hidden_size=64, head_hidden_size=32, depth_estimation_type="relative")
    DepthAnythingForDepthEstimation(config).save_pretrained(folder)
    DPTImageProcessor(do_resize=True, size={"height": 518, "width": 518}, keep_aspect_ratio=True, ensure_multiple_of=14,
                      resample=3, do_rescale=True, do_normalize=True, image_mean=[0.485, 0.456, 0.406],
                      image_std=[0.229, 0.224, 0.225], do_pad=False).save_pretrained(folder)


def _upernet(folder: Path) -> None:
    """openmmlab/upernet-convnext-small's configuration (ConvNeXt-small backbone, 512-wide UperNet head, ADE20K's 150
    classes; about 82 M parameters, as the hub repo), saved as the repo's pytorch_model.bin, and its processor."""
    from transformers import ConvNextConfig, SegformerImageProcessor, UperNetConfig, UperNetForSemanticSegmentation

    backbone = ConvNextConfig(depths=[3, 3, 27, 3], hidden_sizes=[96, 192, 384, 768], drop_path_rate=0.3,
                              out_features=["stage1", "stage2", "stage3", "stage4"])
    config = UperNetConfig(backbone_config=backbone, hidden_size=512, auxiliary_in_channels=384, num_labels=150)
    model = UperNetForSemanticSegmentation(config)
    model.config.save_pretrained(folder)
    torch.save(model.state_dict(), folder / "pytorch_model.bin")  # the repo's file (transformers 5 saves only safetensors)
    SegformerImageProcessor(do_resize=True, size={"height": 512, "width": 512}, do_reduce_labels=False,
                            image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225]).save_pretrained(folder)


def build_annotator_cache(cache_dir: Path) -> Path:
    """Write every annotator file (seeded, deterministic) unless this version is already there; returns the
    Annotators snapshot folder. Point HF_HUB_CACHE at `cache_dir` (and set HF_HUB_OFFLINE=1) to use it."""
    cache_dir = Path(cache_dir)
    done = snapshot_dir(cache_dir, ANNOTATORS) / ".complete"
    if done.exists() and done.read_text() == BUILD_VERSION:
        return done.parent
    for index, (filename, build) in enumerate(_networks().items()):
        torch.manual_seed(index)
        _save(cache_dir, ANNOTATORS, filename, build())
    torch.manual_seed(100)
    _save(cache_dir, TEED[0], TEED[1], _teed_state())
    torch.manual_seed(101)
    with tempfile.TemporaryDirectory(prefix="depth-anything-") as folder:
        _depth_anything(Path(folder))
        add_folder(cache_dir, DEPTH_ANYTHING, Path(folder))
    build_dwpose_files(cache_dir)
    torch.manual_seed(102)
    with tempfile.TemporaryDirectory(prefix="upernet-") as folder:
        _upernet(Path(folder))
        add_folder(cache_dir, UPERNET, Path(folder))
    done.write_text(BUILD_VERSION)
    return done.parent
