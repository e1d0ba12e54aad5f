"""A1111 sampler names mapped onto diffusers schedulers, built fresh for every request (schedulers hold state)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SamplerSpec:
    """Which diffusers scheduler class stands for an A1111 sampler, and the config it overrides."""

    class_name: str
    overrides: tuple[tuple[str, Any], ...] = ()


SAMPLERS: dict[str, SamplerSpec] = {
    "Euler a": SamplerSpec("EulerAncestralDiscreteScheduler"),
    "Euler": SamplerSpec("EulerDiscreteScheduler"),
    "DPM++ 2M": SamplerSpec("DPMSolverMultistepScheduler"),
    "DPM++ 2M Karras": SamplerSpec("DPMSolverMultistepScheduler", (("use_karras_sigmas", True),)),
    "DPM++ 2M SDE Karras": SamplerSpec(
        "DPMSolverMultistepScheduler", (("algorithm_type", "sde-dpmsolver++"), ("use_karras_sigmas", True))
    ),
    "DPM++ SDE Karras": SamplerSpec("DPMSolverSDEScheduler", (("use_karras_sigmas", True),)),
    "UniPC": SamplerSpec("UniPCMultistepScheduler"),
    "DDIM": SamplerSpec("DDIMScheduler"),
    "LMS": SamplerSpec("LMSDiscreteScheduler"),
    "Heun": SamplerSpec("HeunDiscreteScheduler"),
    "LCM": SamplerSpec("LCMScheduler"),
}
SAMPLER_NAMES: tuple[str, ...] = tuple(SAMPLERS)


def build_scheduler(name: str, base_config: dict[str, Any]) -> Any:
    """A new scheduler per request: diffusers schedulers keep step state and must not be shared."""
    import diffusers

    spec = SAMPLERS[name]
    scheduler_class = getattr(diffusers, spec.class_name)
    return scheduler_class.from_config(base_config, **dict(spec.overrides))
