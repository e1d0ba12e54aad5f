"""The sampler passes of a job, chunk of rows by chunk: the first pass (txt2img, or img2img / inpaint from `init`) and,
with hires fix, the upscale and a second img2img pass at the larger size. Every pass is the one loop in denoise.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from PIL import Image

from pipelines.decode import decode_latents
from pipelines.denoise import GenerationError, Row, denoise
from pipelines.img2img import InitLatents, encode_pictures, first_step
from pipelines.prompts import PromptEmbeds
from pipelines.requests import LATENT_UPSCALERS, GenerationRequest
from pipelines.samplers import build_scheduler

# on_step(step, total, latents) for the whole job; cancelled() is polled between steps
Report = Callable[[int, int, torch.Tensor], None]


@dataclass
class Passes:
    """What every pass of one job shares."""

    base: object  # pipelines.loading.BaseModel
    request: GenerationRequest
    embeds: PromptEmbeds
    batch: int  # rows per UNet batch
    init: InitLatents | None = None  # the first pass starts from a picture


def _scheduler(passes: Passes, steps: int, from_picture: bool):
    """A fresh scheduler for one pass (its state is per pass), and the timestep index it begins at."""
    scheduler = build_scheduler(passes.request.sampler, passes.base.scheduler_config)
    scheduler.set_timesteps(steps, device=passes.base.device)
    begin = first_step(scheduler, steps, passes.request.denoising_strength) if from_picture else 0
    return scheduler, begin


def _pass_lengths(passes: Passes) -> list[int]:
    """Sampler steps of each pass, known before any runs (so progress says k of the whole job)."""
    request = passes.request
    first, begin = _scheduler(passes, request.steps, passes.init is not None)
    lengths = [len(first.timesteps) - begin]
    if request.enable_hr:
        second, begin = _scheduler(passes, request.hr_second_pass_steps or request.steps, True)
        lengths.append(len(second.timesteps) - begin)
    return lengths


def upscale(passes: Passes, latents: torch.Tensor, cancel=None) -> InitLatents:
    """Hires fix's upscale: a latent upscaler resizes the latents; the others decode, resize the picture (PIL) and
    encode it again, each row sampling its own picture latents."""
    base, request = passes.base, passes.request
    width, height = request.hires_size
    if request.hr_upscaler in LATENT_UPSCALERS:
        mode, antialias = LATENT_UPSCALERS[request.hr_upscaler]
        resized = torch.nn.functional.interpolate(latents, size=(height // 8, width // 8), mode=mode, antialias=antialias)
        return InitLatents(request.denoising_strength, latents=resized)
    resample = Image.Resampling.LANCZOS if request.hr_upscaler == "Lanczos" else Image.Resampling.NEAREST
    pictures = [image.resize((width, height), resample) for image in decode_latents(base.vae, latents, cancel)]
    return encode_pictures(base.vae, pictures, request.denoising_strength, base.device, base.dtype)


def run_passes(passes: Passes, rows: list[Row], on_step: Report | None, cancelled: Callable[[], bool] | None,
               cancel=None) -> torch.Tensor:
    """Every row's final latents, in order."""
    base, request = passes.base, passes.request
    channels = base.unet.config.in_channels
    chunks = [rows[i:i + passes.batch] for i in range(0, len(rows), passes.batch)]
    per_chunk = sum(_pass_lengths(passes))
    outputs = []
    for number, chunk in enumerate(chunks):
        done = [number * per_chunk]  # steps of the job before this pass

        def report(step: int, total: int, latents: torch.Tensor, done: list[int] = done) -> None:
            if on_step is not None:
                on_step(done[0] + step, per_chunk * len(chunks), latents)

        scheduler, begin = _scheduler(passes, request.steps, passes.init is not None)
        shape = (channels, request.height // 8, request.width // 8)
        with torch.inference_mode():
            latents = denoise(base.unet, scheduler, chunk, passes.embeds, float(request.cfg_scale), shape, base.device,
                              base.dtype, on_step=report, cancelled=cancelled, init=passes.init, begin=begin)
            if request.enable_hr:
                done[0] += len(scheduler.timesteps) - begin
                init = upscale(passes, latents, cancel)
                scheduler, begin = _scheduler(passes, request.hr_second_pass_steps or request.steps, True)
                width, height = request.hires_size
                second = [Row(row.generator, row.hires_units or [], row.seed) for row in chunk]
                latents = denoise(base.unet, scheduler, second, passes.embeds, float(request.cfg_scale),
                                  (channels, height // 8, width // 8), base.device, base.dtype, on_step=report,
                                  cancelled=cancelled, init=init, begin=begin)
        outputs.append(latents)
    latents = torch.cat(outputs)
    if torch.isnan(latents).any():
        raise GenerationError("The model produced invalid values (NaN) while denoising; try another sampler, seed or CFG scale.")
    return latents
