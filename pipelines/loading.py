"""Turn a --model value (hub id, diffusers folder, .safetensors file, or `tiny`) into base components."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from hub import HubAccess
from pipelines.architectures import SD15, SDXL, Architecture, architecture_of

log = logging.getLogger(__name__)

DEFAULT_MODEL = SD15.default_model
PICKLE_SUFFIXES = (".ckpt", ".bin", ".pt", ".pth", ".pkl")


class ModelLoadError(RuntimeError):
    """A model that could not be loaded; the message names it and says how to fix it."""


@dataclass
class BaseModel:
    """The shared parts every ControlNet plugs into (SDXL adds a second text encoder); loaded once, never copied."""

    name: str
    unet: torch.nn.Module
    vae: torch.nn.Module
    text_encoder: torch.nn.Module
    tokenizer: object
    scheduler_config: dict
    device: torch.device
    dtype: torch.dtype
    is_tiny: bool = False
    text_encoder_2: torch.nn.Module | None = None
    tokenizer_2: object = None
    # SDXL's pipelines encode an omitted negative prompt as zeros; its model_index.json says so
    force_zeros_for_empty_prompt: bool = False

    @property
    def architecture(self) -> Architecture:
        return architecture_of(self.unet.config)

    def parts(self) -> tuple[torch.nn.Module, ...]:
        """The networks in the order a job runs them (offload chains its hooks in this order)."""
        encoders = (self.text_encoder,) if self.text_encoder_2 is None else (self.text_encoder, self.text_encoder_2)
        return *encoders, self.unet, self.vae


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


def _from_components(name: str, pipe, device: torch.device, dtype: torch.dtype, is_tiny: bool = False) -> BaseModel:
    pipe.to(device=device, dtype=dtype)
    second = getattr(pipe, "text_encoder_2", None)
    return BaseModel(
        name=name, unet=pipe.unet.eval(), vae=pipe.vae.eval(), text_encoder=pipe.text_encoder.eval(),
        tokenizer=pipe.tokenizer, scheduler_config=dict(pipe.scheduler.config), device=device, dtype=dtype,
        is_tiny=is_tiny, text_encoder_2=second.eval() if second is not None else None,
        tokenizer_2=getattr(pipe, "tokenizer_2", None),
        force_zeros_for_empty_prompt=bool(pipe.config.get("force_zeros_for_empty_prompt", False)),
    )


def _built_in(spec: str, device: torch.device, dtype: torch.dtype) -> BaseModel:
    """`tiny` and `tiny-sdxl`: the real classes at toy size, random weights, nothing read from disk."""
    if spec == "tiny":
        from pipelines.tiny import build_tiny

        tiny = build_tiny(conditions=())
        model = BaseModel("tiny", tiny.unet, tiny.vae, tiny.text_encoder, tiny.tokenizer, tiny.scheduler_config, device,
                          dtype, True)
    else:
        from pipelines.tiny_sdxl import build_tiny_sdxl

        xl = build_tiny_sdxl()
        model = BaseModel("tiny-sdxl", xl.unet, xl.vae, xl.text_encoder, xl.tokenizer, xl.scheduler_config, device, dtype,
                          True, xl.text_encoder_2, xl.tokenizer_2, force_zeros_for_empty_prompt=True)
    for part in model.parts():
        move(part, device, dtype)
    return model


def _pipeline(xl: bool):
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    return StableDiffusionXLPipeline if xl else StableDiffusionPipeline


def _options(xl: bool, dtype: torch.dtype) -> dict:
    return dict(torch_dtype=dtype) if xl else dict(torch_dtype=dtype, safety_checker=None, requires_safety_checker=False)


def _index_is_xl(source: str, local_only: bool) -> bool:
    """A diffusers folder's or repo's model_index.json lists SDXL's second text encoder."""
    from diffusers import DiffusionPipeline

    return "text_encoder_2" in DiffusionPipeline.load_config(source, local_files_only=local_only)


def _file_is_xl(path: Path) -> bool:
    """An SDXL checkpoint holds its second text encoder under conditioner.embedders.1 (only the key names are read).
    A pickle checkpoint (the operator allowed it) is read as SD1.5."""
    if path.suffix.lower() != ".safetensors":
        return False
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as tensors:
            return any(key.startswith("conditioner.embedders.1.") for key in tensors.keys())
    except Exception:  # noqa: BLE001 - safetensors' own error type: diffusers then reports the damaged file
        return False


def load_base(spec: str, device: torch.device, dtype: torch.dtype, allow_pickle: bool = False,
              hub: HubAccess | None = None) -> BaseModel:
    """Load the base model the way its location calls for (its architecture read from it), with a fixable error on
    failure."""
    if spec in ("tiny", "tiny-sdxl"):
        return _built_in(spec, device, dtype)
    path = Path(spec).expanduser()
    check_not_pickle(spec, allow_pickle)
    hub = hub or HubAccess()
    try:
        if path.is_file():
            xl = _file_is_xl(path)
            configs = {"config": SDXL.default_model} if xl else {}  # SDXL's layout, whatever its text encoder's depth
            pipe = _pipeline(xl).from_single_file(str(path), **_options(xl, dtype), **configs)
        elif path.is_dir():
            xl = _index_is_xl(str(path), True)
            pipe = _pipeline(xl).from_pretrained(str(path), **_options(xl, dtype))
        elif names_a_path(spec):
            raise ModelLoadError(f"No model file or folder at {spec}; check the path or use --model tiny.")
        else:
            local_only = hub.local_only()
            try:
                xl = _index_is_xl(spec, local_only)
                pipe = _from_hub(spec, _pipeline(xl), {**_options(xl, dtype), "local_files_only": local_only})
            except (OSError, ValueError) as error:
                if not local_only:
                    raise
                raise ModelLoadError(missing_model_message(spec, f"not downloaded, and {hub.reason()}")) from error
    except ModelLoadError:
        raise
    except (OSError, ValueError) as error:
        log.warning("loading %s failed: %s", spec, error)
        raise ModelLoadError(missing_model_message(spec, type(error).__name__)) from error
    if xl and dtype == torch.float16:
        _use_fp16_vae(pipe, hub)
    return _from_components(spec, pipe, device, dtype)


def _use_fp16_vae(pipe, hub: HubAccess) -> None:
    """SDXL's own VAE overflows in fp16 (black or NaN images); madebyollin's fix stays finite. Without it the decoder
    still works: a NaN decode is retried in fp32 (pipelines.decode)."""
    from diffusers import AutoencoderKL

    repo = SDXL.fp16_vae
    try:
        pipe.vae = AutoencoderKL.from_pretrained(repo, torch_dtype=torch.float16, local_files_only=hub.local_only())
    except (OSError, ValueError):
        log.info("%s is not available; the model's own VAE decodes (retried in fp32 on NaN). Fetch it with "
                 "`hf download %s`", repo, repo)


def _from_hub(repo_id: str, pipeline, common: dict):
    """fp16 weights halve the download when running in fp16; fall back to the full-precision files when absent."""
    if common["torch_dtype"] == torch.float16:  # CUDA, or CPU-resident weights offloaded to CUDA
        try:
            return pipeline.from_pretrained(repo_id, variant="fp16", use_safetensors=True, **common)
        except (OSError, ValueError):
            log.info("%s has no fp16 variant here; loading the default weights", repo_id)
    return pipeline.from_pretrained(repo_id, use_safetensors=True, **common)
