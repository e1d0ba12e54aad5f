"""The ControlNet denoising loop, batched over rows that may each use different ControlNets.

It follows diffusers' StableDiffusionControlNetPipeline step for step (same latents, same CFG order,
same start/end keep rule, same scheduler calls) so a single row reproduces that pipeline's image, and
adds what the pipeline cannot do per unit: A1111's three control modes, and one UNet batch over the
cells of a condition matrix.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import torch

from pipelines.control_maps import soft_injection_scales
from pipelines.img2img import InitLatents, keep_unmasked, start_latents
from pipelines.prompts import PromptEmbeds


class GenerationError(RuntimeError):
    """A job that failed for a reason the user can act on (memory, numerics); the engine stays usable."""


class JobCancelled(Exception):
    """Raised between steps when the user pressed Stop."""


@dataclass
class PreparedUnit:
    """A unit ready for the loop: its network, its map as a tensor, and how it is weighted."""

    net: torch.nn.Module
    image: torch.Tensor  # (1, 3, H, W) in [0, 1]
    weight: float
    start: float
    end: float
    control_mode: str
    control_type: int | None = None  # a union ControlNet's task for this unit's condition
    # steers the prompt's half of CFG only (shuffle's pooled model, as diffusers runs global_pool_conditions)
    cond_only: bool = False


@dataclass
class Row:
    """One image being denoised: its seed and the units steering it."""

    generator: torch.Generator
    units: list[PreparedUnit]
    seed: int | None = None  # what seeded the generator; SDE samplers seed their Brownian noise from it too
    hires_units: list[PreparedUnit] | None = None  # hires fix's second pass: the units at the larger size


def _keep(step: int, total: int, unit: PreparedUnit) -> bool:
    """diffusers' rule: a unit acts on step i unless i/total < start or (i+1)/total > end."""
    return not (step / total < unit.start or (step + 1) / total > unit.end)


def _call_controlnet(net, latent_input, t, embeds, images, scale, added, control_type):
    """A single-condition ControlNet gets the map; a union one also its control type, one-hot and as a task index
    (diffusers' union pipeline's arguments); SDXL ones the pooled text and size ids."""
    extra = {} if added is None else {"added_cond_kwargs": added}
    if control_type is None:
        extra["controlnet_cond"] = images
    else:
        one_hot = torch.zeros(len(latent_input), net.config.num_control_type, device=latent_input.device, dtype=embeds.dtype)
        one_hot[:, control_type] = 1
        extra.update(controlnet_cond=[images], control_type=one_hot, control_type_idx=[control_type])
    return net(latent_input, t, encoder_hidden_states=embeds, conditioning_scale=scale, return_dict=False, **extra)


def _control_residuals(rows, latent_input, embeds, added, t, step, total):
    """Sum every active unit's residuals into full-batch tensors (uncond half first, then cond half).

    Control modes, per unit with weight w and residual r_k (k = 0..N-1, shallow to deep):
      Balanced:                     r_k * w on both CFG branches.
      My prompt is more important:  r_k * w * 0.825**(N-1-k) on both branches (soft injection: fine,
                                    shallow features are damped so the prompt decides detail).
      ControlNet is more important: the same soft scales, but only on the conditional branch; the
                                    unconditional branch gets nothing, so CFG's (cond - uncond)
                                    multiplies the control by cfg_scale.
    Units sharing one network, mode and union control type run as one ControlNet batch.
    """
    count = len(rows)
    groups: dict[tuple[int, bool, int | None], list[tuple[int, PreparedUnit]]] = {}
    for index, row in enumerate(rows):
        for unit in row.units:
            if _keep(step, total, unit):
                cond_only = unit.cond_only or unit.control_mode == "ControlNet is more important"
                groups.setdefault((id(unit.net), cond_only, unit.control_type), []).append((index, unit))
    down, mid = None, None
    for (_, cond_only, control_type), members in groups.items():
        net = members[0][1].net
        cond_rows = [count + index for index, _ in members]
        picked = cond_rows if cond_only else [index for index, _ in members] + cond_rows
        images = torch.cat([unit.image for _, unit in members] * (1 if cond_only else 2)).to(net.dtype)
        weights = [unit.weight for _, unit in members] * (1 if cond_only else 2)
        soft = [unit.control_mode != "Balanced" for _, unit in members] * (1 if cond_only else 2)
        if len(members) == 1 and not soft[0]:
            scale_arg: float = weights[0]  # identical arithmetic to the pipeline's single-unit call
            row_scales = None
        else:
            scale_arg, row_scales = 1.0, torch.tensor(weights, device=latent_input.device)
        index_tensor = torch.tensor(picked, device=latent_input.device)
        picked_added = None if added is None else {key: value[index_tensor] for key, value in added.items()}
        res_down, res_mid = _call_controlnet(net, latent_input[index_tensor], t, embeds[index_tensor], images, scale_arg,
                                             picked_added, control_type)
        residuals = [*res_down, res_mid]
        if row_scales is not None:
            ladders = soft_injection_scales(len(residuals))
            scaled = []
            for level, residual in enumerate(residuals):
                factors = torch.stack([w * (ladders[level] if s else 1.0) for w, s in zip(row_scales, soft)])
                scaled.append(residual * factors.to(residual.dtype).view(-1, 1, 1, 1))
            residuals = scaled
        if down is None:
            down = [torch.zeros((2 * count, *r.shape[1:]), dtype=r.dtype, device=r.device) for r in residuals[:-1]]
            mid = torch.zeros((2 * count, *residuals[-1].shape[1:]), dtype=residuals[-1].dtype, device=residuals[-1].device)
        down = [_add_rows(d, index_tensor, r) for d, r in zip(down, residuals[:-1])]
        mid = _add_rows(mid, index_tensor, residuals[-1])
    return down, mid


def _add_rows(total: torch.Tensor, rows: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
    """Add a group's residuals into its rows; a pooled model's (1x1, shuffle's) spread over the picture, as the UNet's
    own addition would broadcast them."""
    if total.shape[2:] != residual.shape[2:]:
        size = torch.broadcast_shapes(total.shape[2:], residual.shape[2:])
        total = total.expand(*total.shape[:2], *size).clone() if total.shape[2:] != size else total
        residual = residual.expand(*residual.shape[:2], *size)
    return total.index_add(0, rows, residual)


def _seed_brownian_noise(scheduler, latents: torch.Tensor, seeds: list[int]) -> None:
    """DPM++ SDE draws Brownian noise from its own tree. diffusers seeds it from one config value or the global RNG,
    so the same request gave different pixels. A1111 (k-diffusion's BrownianTreeNoiseSampler, seed = the batch's
    per-image seeds) gives each image a tree seeded by its own seed; so do we, which also makes image i of a batch
    equal a batch-1 request with seed + i."""
    from diffusers.schedulers.scheduling_dpmsolver_sde import BrownianTreeNoiseSampler

    sigmas = scheduler.sigmas
    scheduler.noise_sampler = BrownianTreeNoiseSampler(latents, sigmas[sigmas > 0].min().item(), sigmas.max().item(), seeds)


def size_conditions(prompts: PromptEmbeds, count: int, height: int, width: int, device, dtype) -> dict | None:
    """SDXL's added conditions for `count` rows (uncond half first): the pooled text and the six size/crop numbers
    (original size = target size, no crop: what diffusers sends by default)."""
    if prompts.pooled is None:
        return None
    time_ids = torch.tensor([[height, width, 0, 0, height, width]], dtype=dtype, device=device).repeat(2 * count, 1)
    pooled = torch.cat([prompts.uncond_pooled.expand(count, -1), prompts.pooled.expand(count, -1)]).to(device, dtype)
    return {"text_embeds": pooled, "time_ids": time_ids}


def denoise(
    unet: torch.nn.Module,
    scheduler,
    rows: list[Row],
    prompts: PromptEmbeds,
    cfg_scale: float,
    latent_shape: tuple[int, int, int],
    device: torch.device,
    dtype: torch.dtype,
    on_step: Callable[[int, int, torch.Tensor], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    init: InitLatents | None = None,
    begin: int = 0,
) -> torch.Tensor:
    """Run the sampler over all rows at once and return the final latents (rows in order); with `init` (img2img,
    inpaint) from the scheduler's timestep `begin` on."""
    count = len(rows)
    generators = [row.generator for row in rows]
    timesteps = scheduler.timesteps[begin:]
    start = start_latents(init, scheduler, timesteps, generators, [row.seed for row in rows], latent_shape, device, dtype)
    latents = start.latents
    embeds = torch.cat([prompts.uncond.expand(count, -1, -1), prompts.cond.expand(count, -1, -1)]).to(dtype)
    added = size_conditions(prompts, count, latent_shape[1] * 8, latent_shape[2] * 8, device, dtype)
    step_kwargs = {}
    step_params = set(inspect.signature(scheduler.step).parameters)
    if "generator" in step_params:
        step_kwargs["generator"] = generators
    if "eta" in step_params:
        step_kwargs["eta"] = 0.0
    if hasattr(scheduler, "noise_sampler_seed") and all(row.seed is not None for row in rows):
        _seed_brownian_noise(scheduler, latents, [row.seed for row in rows])
    total = len(timesteps)
    for step, t in enumerate(timesteps):
        if cancelled is not None and cancelled():
            raise JobCancelled()
        latent_input = scheduler.scale_model_input(torch.cat([latents] * 2), t)
        down, mid = _control_residuals(rows, latent_input, embeds, added, t, step, total)
        noise = unet(
            latent_input, t, encoder_hidden_states=embeds, added_cond_kwargs=added,
            down_block_additional_residuals=down, mid_block_additional_residual=mid, return_dict=False,
        )[0]
        noise_uncond, noise_cond = noise.chunk(2)
        noise = noise_uncond + cfg_scale * (noise_cond - noise_uncond)
        latents = scheduler.step(noise, t, latents, **step_kwargs, return_dict=False)[0]
        latents = keep_unmasked(init, start, scheduler, latents, timesteps, step)
        if on_step is not None:
            on_step(step + 1, total, latents)
    return latents
