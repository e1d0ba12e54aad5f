"""Requests and results that cross the engine's seam, with the checks that turn bad input into a sentence."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from PIL import Image

from pipelines.limits import DEFAULT_LIMITS, Limits
from pipelines.samplers import SAMPLER_NAMES

CONTROL_MODES = ("Balanced", "My prompt is more important", "ControlNet is more important")
RESIZE_MODES = ("Just Resize", "Crop and Resize", "Resize and Fill")
MAX_SEED = 2**32 - 1


class RequestError(ValueError):
    """A request the engine will not run; the message is one sentence a user can act on."""


@dataclass(frozen=True)
class ControlUnit:
    """One ControlNet unit: a ready condition map plus how strongly and when it steers."""

    image: Image.Image
    condition: str
    module: str = "none"
    model: str | None = None
    weight: float = 1.0
    guidance_start: float = 0.0
    guidance_end: float = 1.0
    control_mode: str = "Balanced"
    resize_mode: str = "Crop and Resize"
    processor_res: int = 512
    threshold_a: float | None = None
    threshold_b: float | None = None
    pixel_perfect: bool = False


@dataclass(frozen=True)
class GenerationRequest:
    """Everything that decides the pixels of a generation (and so goes into the infotext)."""

    prompt: str
    negative_prompt: str = ""
    units: tuple[ControlUnit, ...] = ()
    steps: int = 20
    cfg_scale: float = 7.0
    sampler: str = "Euler a"
    seed: int = -1
    width: int = 512
    height: int = 512
    batch_size: int = 1
    draft: bool = False  # LCM-LoRA fast draft: needs sampler "LCM", 4-8 steps, CFG <= 2


@dataclass
class GenerationResult:
    """Images with the seeds, maps and infotext that reproduce them."""

    images: list[Image.Image]
    seeds: list[int]
    maps: list[Image.Image]
    infotexts: list[str]
    request: GenerationRequest
    notes: list[str] = field(default_factory=list)


def _number(name: str, value: object, low: float, high: float, integer: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RequestError(f"{name} must be a number, got {value!r}.")
    if not math.isfinite(value):
        raise RequestError(f"{name} must be a finite number between {low:g} and {high:g}.")
    if integer and int(value) != value:
        raise RequestError(f"{name} must be a whole number, got {value!r}.")
    if not low <= value <= high:
        raise RequestError(f"{name} must be between {low:g} and {high:g}, got {value:g}.")


def validate_unit(unit: ControlUnit, index: int, limits: Limits = DEFAULT_LIMITS) -> None:
    """Check one unit; the message says which unit and which field."""
    where = f"ControlNet unit {index}"
    if not isinstance(unit.image, Image.Image):
        raise RequestError(f"{where} has no control image; upload one or remove the unit.")
    _number(f"{where} weight", unit.weight, 0.0, limits.max_weight)
    _number(f"{where} guidance_start", unit.guidance_start, 0.0, 1.0)
    _number(f"{where} guidance_end", unit.guidance_end, 0.0, 1.0)
    if unit.guidance_start > unit.guidance_end:
        raise RequestError(f"{where} guidance_start ({unit.guidance_start:g}) must not exceed guidance_end ({unit.guidance_end:g}).")
    if unit.control_mode not in CONTROL_MODES:
        raise RequestError(f"{where} control_mode must be one of {', '.join(CONTROL_MODES)}; got {unit.control_mode!r}.")
    if unit.resize_mode not in RESIZE_MODES:
        raise RequestError(f"{where} resize_mode must be one of {', '.join(RESIZE_MODES)}; got {unit.resize_mode!r}.")
    _number(f"{where} processor_res", unit.processor_res, limits.min_processor_res, limits.max_processor_res, integer=True)


def validate_request(request: GenerationRequest, limits: Limits = DEFAULT_LIMITS) -> None:
    """Reject anything the engine cannot honour exactly, before any model work starts."""
    for name in ("prompt", "negative_prompt"):
        text = getattr(request, name)
        if not isinstance(text, str):
            raise RequestError(f"{name} must be text.")
        if len(text) > limits.max_prompt_chars:
            raise RequestError(f"{name} is {len(text)} characters long; keep it under {limits.max_prompt_chars}.")
        try:
            text.encode("utf-8")  # what the tokenizer and the PNG text chunk need; lone surrogates have no encoding
        except UnicodeEncodeError:
            raise RequestError(f"{name} contains characters that are not valid Unicode text (lone surrogates); remove them.") from None
    if len(request.units) > limits.max_units:
        raise RequestError(f"At most {limits.max_units} ControlNet units can be used at once; got {len(request.units)}.")
    for index, unit in enumerate(request.units):
        validate_unit(unit, index, limits)
    _number("steps", request.steps, 1, limits.max_steps, integer=True)
    _number("cfg_scale", request.cfg_scale, 1.0, limits.max_cfg)
    if request.sampler not in SAMPLER_NAMES:
        raise RequestError(f"Unknown sampler {request.sampler!r}; choose one of {', '.join(SAMPLER_NAMES)}.")
    _number("seed", request.seed, -1, MAX_SEED, integer=True)
    for name in ("width", "height"):
        value = getattr(request, name)
        _number(name, value, limits.min_side, limits.max_side, integer=True)
        if value % 8:
            raise RequestError(f"{name} must be a multiple of 8 (got {value}); try {int(value) // 8 * 8 or 8}.")
    _number("batch_size", request.batch_size, 1, limits.max_batch, integer=True)
    if request.draft and (request.sampler != "LCM" or request.cfg_scale > 2 or request.steps > 8):
        raise RequestError("Draft mode runs LCM-LoRA: use sampler LCM, at most 8 steps and a CFG scale of at most 2.")
