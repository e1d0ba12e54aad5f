"""Speed features, each a setting: LCM-LoRA draft mode, TAESD live previews, CUDA layout and compile."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import torch
from PIL import Image

from hub import HubAccess
from pipelines.loading import BaseModel, ModelLoadError
from pipelines.previews import cheap_preview

log = logging.getLogger(__name__)

LCM_LORA = "latent-consistency/lcm-lora-sdv1-5"
LCM_LORA_FILE = "pytorch_lora_weights.safetensors"
TAESD = "madebyollin/taesd"
DRAFT_SAMPLER = "LCM"
DRAFT_MAX_CFG = 2.0
DRAFT_ADAPTER = "lcm_draft"


def _pipeline_view(base: BaseModel):
    """A diffusers pipeline object over the shared parts (no copy), only to reuse its LoRA loader."""
    from diffusers import EulerDiscreteScheduler, PNDMScheduler, StableDiffusionPipeline, StableDiffusionXLPipeline

    if base.text_encoder_2 is not None:
        return StableDiffusionXLPipeline(
            vae=base.vae, text_encoder=base.text_encoder, text_encoder_2=base.text_encoder_2, tokenizer=base.tokenizer,
            tokenizer_2=base.tokenizer_2, unet=base.unet, scheduler=EulerDiscreteScheduler.from_config(base.scheduler_config),
        )
    return StableDiffusionPipeline(
        vae=base.vae, text_encoder=base.text_encoder, tokenizer=base.tokenizer, unet=base.unet,
        scheduler=PNDMScheduler.from_config(base.scheduler_config), safety_checker=None,
        feature_extractor=None, requires_safety_checker=False,
    )


class DraftMode:
    """LCM-LoRA loaded once as a PEFT adapter on the shared UNet (never fused), enabled only for draft jobs."""

    def __init__(self, base: BaseModel, repo: str = LCM_LORA, offload=None, hub: HubAccess | None = None):
        self.base = base
        self.repo = repo
        self.hub = hub or HubAccess()
        self._offload = offload  # a ModelOffload whose hooks must be off while diffusers edits the UNet
        self._pipe = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._pipe is not None

    def _ensure_loaded(self) -> None:
        with self._lock:
            if self._pipe is not None:
                return
            pipe = _pipeline_view(self.base)
            local_only = self.hub.local_only()
            try:
                with self._offload.suspended() if self._offload else nullcontext():
                    pipe.load_lora_weights(self.repo, weight_name=LCM_LORA_FILE, adapter_name=DRAFT_ADAPTER,
                                           local_files_only=local_only)
            except (OSError, ValueError) as error:
                why = f"is not downloaded and {self.hub.reason()}" if local_only else f"could not be loaded ({error})"
                raise ModelLoadError(f"Draft mode needs the LCM-LoRA {self.repo}, which {why}. Fetch it with "
                                     f"`hf download {self.repo} {LCM_LORA_FILE}`, or turn draft mode off.") from error
            pipe.disable_lora()
            self._pipe = pipe

    @contextmanager
    def active(self, enabled: bool) -> Iterator[None]:
        """Enable the adapter for one job only; the engine lock guarantees no other job sees it."""
        if not enabled:
            yield
            return
        self._ensure_loaded()
        self._pipe.enable_lora()
        try:
            yield
        finally:
            self._pipe.disable_lora()


class PreviewDecoder:
    """Live previews: TAESD when its weights are available, else the cheap linear approximation."""

    def __init__(self, device: torch.device, dtype: torch.dtype, use_taesd: bool = True, repo: str = TAESD,
                 hub: HubAccess | None = None):
        self.device, self.dtype, self.repo = device, dtype, repo
        self.hub = hub or HubAccess()
        self._use_taesd = use_taesd
        self._taesd = None
        self.kind = "cheap"

    def _load(self):
        if self._taesd is None and self._use_taesd:
            from diffusers import AutoencoderTiny

            try:
                self._taesd = AutoencoderTiny.from_pretrained(self.repo, torch_dtype=self.dtype,
                                                              local_files_only=self.hub.local_only()).to(self.device).eval()
                self.kind = "taesd"
            except (OSError, ValueError):
                log.info("TAESD (%s) is not available; previews use the cheap approximation (fetch it with "
                         "`hf download %s`)", self.repo, self.repo)
                self._use_taesd = False
        return self._taesd

    def decode(self, latents: torch.Tensor) -> list[Image.Image]:
        taesd = self._load()
        if taesd is None:
            return cheap_preview(latents)
        from diffusers.image_processor import VaeImageProcessor

        with torch.inference_mode():
            pixels = taesd.decode(latents.to(taesd.dtype), return_dict=False)[0]
        return VaeImageProcessor(vae_scale_factor=8).postprocess(pixels.float().clamp(-1, 1), output_type="pil")


def compile_module(module: torch.nn.Module) -> torch.nn.Module:
    """torch.compile with inductor's defaults: minutes of autotuning at start would outweigh what it wins per image."""
    return torch.compile(module, fullgraph=False)


def optimize_for_cuda(module: torch.nn.Module, device: torch.device, compile_model: bool = False) -> torch.nn.Module:
    """fp16 + SDPA come from loading; here, for the UNet and each ControlNet: channels_last and optional torch.compile."""
    if device.type != "cuda":
        return module
    module.to(memory_format=torch.channels_last)
    return compile_module(module) if compile_model else module


def warm_up(engine, size: int = 512, steps: int = 2) -> float:
    """Pay torch.compile's one-off tracing before the first user job; nothing is saved or kept."""
    import time

    from pipelines.requests import ControlUnit, GenerationRequest

    unit = ControlUnit(image=Image.new("RGB", (size, size)), condition="canny")
    request = GenerationRequest(prompt="warm-up", units=(unit,), steps=steps, sampler="Euler", seed=0, width=size, height=size)
    start = time.perf_counter()
    try:
        engine.generate(request, save=False)
    except Exception as error:  # a missing default ControlNet must not stop the app from starting
        log.warning("warm-up skipped: %s", error)
    return time.perf_counter() - start
