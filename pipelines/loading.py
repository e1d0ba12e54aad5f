"""Turn a --model value (hub id, diffusers folder, .safetensors file, or `tiny`) into base components."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from hub import HubAccess

log = logging.getLogger(__name__)

DEFAULT_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"
PICKLE_SUFFIXES = (".ckpt", ".bin", ".pt", ".pth", ".pkl")


class ModelLoadError(RuntimeError):
    """A model that could not be loaded; the message names it and says how to fix it."""


@dataclass
class BaseModel:
    """The shared SD1.5 parts every ControlNet plugs into; loaded once, never copied."""

    name: str
    unet: torch.nn.Module
    vae: torch.nn.Module
    text_encoder: torch.nn.Module
    tokenizer: object
    scheduler_config: dict
    device: torch.device
    dtype: torch.dtype
    is_tiny: bool = False

    def parts(self) -> tuple[torch.nn.Module, torch.nn.Module, torch.nn.Module]:
        """The three networks in the order a job runs them (offload chains its hooks in this order)."""
        return self.text_encoder, self.unet, self.vae


def names_a_path(spec: str) -> bool:
    """A spec that can only mean a local file or folder: a missing one is a typo to report, not a hub id to fetch."""
    return spec.endswith(".safetensors") or spec.startswith((".", "/", "~"))


def resolve_device(requested: str = "auto") -> tuple[torch.device, torch.dtype]:
    """auto picks cuda (fp16), then mps (fp16), then cpu (fp32)."""
    if requested not in ("auto", "cuda", "mps", "cpu"):
        raise ModelLoadError(f"Unknown device {requested!r}; use auto, cuda, mps or cpu.")
    if requested in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda"), torch.float16
    if requested == "cuda":
        raise ModelLoadError("--device cuda was asked for but no CUDA GPU is visible; use --device auto or cpu.")
    mps = getattr(torch.backends, "mps", None)
    if requested in ("auto", "mps") and mps is not None and mps.is_available():
        return torch.device("mps"), torch.float16
    if requested == "mps":
        raise ModelLoadError("--device mps was asked for but Metal is not available; use --device auto or cpu.")
    return torch.device("cpu"), torch.float32


def move(module: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """Move without a needless dtype cast (diffusers warns about casting modules it keeps in fp32)."""
    module.to(device)
    if next(module.parameters()).dtype != dtype:
        module.to(dtype=dtype)
    return module


def check_not_pickle(path: str, allow_pickle: bool) -> None:
    """Pickle checkpoints can run code when loaded; refuse them unless the operator opted in."""
    if Path(path).suffix.lower() in PICKLE_SUFFIXES and not allow_pickle:
        raise ModelLoadError(
            f"{path} is a pickle checkpoint, which can execute code when loaded; convert it to .safetensors "
            "or start the app with --allow-pickle if you trust its source."
        )


def missing_model_message(name: str, reason: str = "") -> str:
    """One sentence with the three ways out: pre-download, local path, or the tiny model."""
    detail = f" ({reason})" if reason else ""
    return (
        f"Could not load the model {name!r}{detail}. Download it while online with `hf download {name}`, "
        "pass a local folder or .safetensors file with --model, or start with --model tiny to try the app."
    )


def _from_components(name: str, pipe, device: torch.device, dtype: torch.dtype) -> BaseModel:
    pipe.to(device=device, dtype=dtype)
    return BaseModel(
        name=name,
        unet=pipe.unet.eval(),
        vae=pipe.vae.eval(),
        text_encoder=pipe.text_encoder.eval(),
        tokenizer=pipe.tokenizer,
        scheduler_config=dict(pipe.scheduler.config),
        device=device,
        dtype=dtype,
    )


def load_base(spec: str, device: torch.device, dtype: torch.dtype, allow_pickle: bool = False,
              hub: HubAccess | None = None) -> BaseModel:
    """Load the base model the way its location calls for, with a fixable error on failure."""
    from diffusers import StableDiffusionPipeline

    if spec == "tiny":
        from pipelines.tiny import build_tiny

        tiny = build_tiny(conditions=())
        model = BaseModel("tiny", tiny.unet, tiny.vae, tiny.text_encoder, tiny.tokenizer, tiny.scheduler_config, device, dtype, True)
        for part in model.parts():
            move(part, device, dtype)
        return model
    path = Path(spec).expanduser()
    check_not_pickle(spec, allow_pickle)
    common = dict(torch_dtype=dtype, safety_checker=None, requires_safety_checker=False)
    try:
        if path.is_file():
            pipe = StableDiffusionPipeline.from_single_file(str(path), **common)
        elif path.is_dir():
            pipe = StableDiffusionPipeline.from_pretrained(str(path), **common)
        elif names_a_path(spec):
            raise ModelLoadError(f"No model file or folder at {spec}; check the path or use --model tiny.")
        else:
            hub = hub or HubAccess()
            local_only = hub.local_only()
            try:
                pipe = _from_hub(spec, {**common, "local_files_only": local_only})
            except (OSError, ValueError) as error:
                if not local_only:
                    raise
                raise ModelLoadError(missing_model_message(spec, f"not downloaded, and {hub.reason()}")) from error
    except ModelLoadError:
        raise
    except (OSError, ValueError) as error:
        log.warning("loading %s failed: %s", spec, error)
        raise ModelLoadError(missing_model_message(spec, type(error).__name__)) from error
    return _from_components(spec, pipe, device, dtype)


def _from_hub(repo_id: str, common: dict):
    """fp16 weights halve the download when running in fp16; fall back to the full-precision files when absent."""
    from diffusers import StableDiffusionPipeline

    if common["torch_dtype"] == torch.float16:  # CUDA, or CPU-resident weights offloaded to CUDA
        try:
            return StableDiffusionPipeline.from_pretrained(repo_id, variant="fp16", use_safetensors=True, **common)
        except (OSError, ValueError):
            log.info("%s has no fp16 variant here; loading the default weights", repo_id)
    return StableDiffusionPipeline.from_pretrained(repo_id, use_safetensors=True, **common)
