"""Reading a union ControlNet: xinsir's repo keeps ProMax beside the plain union model under its own file names
(config_promax.json, diffusion_pytorch_model_promax.safetensors), which diffusers' from_pretrained cannot name."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch

from pipelines.architectures import SDXL_UNION

PROMAX_CONFIG = "config_promax.json"
PROMAX_WEIGHTS = "diffusion_pytorch_model_promax.safetensors"


def read_config(source: str, local_only: bool) -> dict:
    """A repo's or folder's config.json (which class it is, which architecture), read before any weights."""
    from diffusers import ControlNetModel

    return dict(ControlNetModel.load_config(source, local_files_only=local_only))


def is_union(config: dict) -> bool:
    return config.get("_class_name") == "ControlNetUnionModel" or "num_control_type" in config


def promax_files(source: str, local_only: bool) -> tuple[str, str] | None:
    """The ProMax config and weights of a union repo or folder; None when it has only the plain union model."""
    folder = Path(source).expanduser()
    if folder.is_dir():
        config, weights = folder / PROMAX_CONFIG, folder / PROMAX_WEIGHTS
        return (str(config), str(weights)) if config.is_file() and weights.is_file() else None
    from huggingface_hub import hf_hub_download

    try:
        config = hf_hub_download(source, PROMAX_CONFIG, local_files_only=local_only)
    except (OSError, ValueError):
        return None
    return config, hf_hub_download(source, PROMAX_WEIGHTS, local_files_only=local_only)


def build_union(config: dict, weights_file: str, dtype: torch.dtype):
    """The network made on the meta device and given the file's tensors (no random init of 2.5 GB to throw away)."""
    from diffusers import ControlNetUnionModel
    from safetensors.torch import load_file

    with torch.device("meta"):
        net = ControlNetUnionModel.from_config(config)
    net.load_state_dict(load_file(weights_file), strict=True, assign=True)
    return net.to(dtype)


def load_union(source: str, dtype: torch.dtype, local_only: bool, fits: Callable[[dict], None]):
    """ProMax when the repo or folder has it (control types 6 tile and 7 repaint too), else the plain union model."""
    from diffusers import ControlNetUnionModel

    found = promax_files(source, local_only)
    if found is None:
        return ControlNetUnionModel.from_pretrained(source, torch_dtype=dtype, use_safetensors=True,
                                                    local_files_only=local_only)
    config = json.loads(Path(found[0]).read_text())
    fits(config)
    return build_union(config, found[1], dtype)


def file_is_union(path: Path) -> int | None:
    """A single .safetensors file of a union model says so by its task embedding: (control types, channels)."""
    from safetensors import safe_open

    if path.suffix.lower() != ".safetensors":
        return None
    try:
        with safe_open(str(path), "pt") as tensors:
            if "task_embedding" not in tensors.keys():
                return None
            return tensors.get_slice("task_embedding").get_shape()[0]
    except Exception:  # noqa: BLE001 - safetensors' own error type: a damaged file is reported by the loader after
        return None


def load_union_file(path: Path, types: int, dtype: torch.dtype, local_only: bool, fits: Callable[[dict], None]):
    """A lone union file takes its config from xinsir's repo: ProMax's for eight control types, the plain one's else."""
    from huggingface_hub import hf_hub_download

    name = PROMAX_CONFIG if types == 8 else "config.json"
    config = json.loads(Path(hf_hub_download(SDXL_UNION, name, local_files_only=local_only)).read_text())
    fits(config)
    return build_union(config, str(path), dtype)
