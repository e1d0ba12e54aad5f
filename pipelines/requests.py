"""Requests and results that cross the engine's seam, with the checks that turn bad input into a sentence."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

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


def _number(name: str, value: object, low: float, high: float, integer: bool = False) -> float:
    """The value checked, as an int when a whole number is asked for (JSON and sliders send 512.0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RequestError(f"{name} must be a number, got {value!r}.")
    if not math.isfinite(value):
        raise RequestError(f"{name} must be a finite number between {low:g} and {high:g}.")
    if integer and int(value) != value:
        raise RequestError(f"{name} must be a whole number, got {value!r}.")
    if not low <= value <= high:
        raise RequestError(f"{name} must be between {low:g} and {high:g}, got {value:g}.")
    return int(value) if integer else value


def _flag(name: str, value: object) -> bool:
    """Only true or false: `bool("no")` is True, so strings and numbers are refused rather than guessed."""
    if not isinstance(value, bool):
        raise RequestError(f"{name} must be true or false, got {value!r}.")
    return value


def _choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise RequestError(f"{name} must be one of {', '.join(choices)}; got {value!r}.")
    return value


def check_unit_settings(unit: ControlUnit, index: int, limits: Limits = DEFAULT_LIMITS) -> ControlUnit:
    """Every field of a unit except its map, normalised (whole numbers as int); run before any preprocessor work."""
    where = f"ControlNet unit {index}"
    unit = replace(
        unit,
        weight=_number(f"{where} weight", unit.weight, 0.0, limits.max_weight),
        guidance_start=_number(f"{where} guidance_start", unit.guidance_start, 0.0, 1.0),
        guidance_end=_number(f"{where} guidance_end", unit.guidance_end, 0.0, 1.0),
        control_mode=_choice(f"{where} control_mode", unit.control_mode, CONTROL_MODES),
        resize_mode=_choice(f"{where} resize_mode", unit.resize_mode, RESIZE_MODES),
        processor_res=_number(f"{where} processor_res", unit.processor_res, limits.min_processor_res,
                              limits.max_processor_res, integer=True),
        pixel_perfect=_flag(f"{where} pixel_perfect", unit.pixel_perfect),
    )
    for name in ("threshold_a", "threshold_b"):
        value = getattr(unit, name)
        if value is not None:
            _number(f"{where} {name}", value, -1e6, 1e6)
    if unit.guidance_start > unit.guidance_end:
        raise RequestError(f"{where} guidance_start ({unit.guidance_start:g}) must not exceed guidance_end ({unit.guidance_end:g}).")
    return unit


def validate_unit(unit: ControlUnit, index: int, limits: Limits = DEFAULT_LIMITS) -> ControlUnit:
    """Check one unit; the message says which unit and which field."""
    if not isinstance(unit.image, Image.Image):
        raise RequestError(f"ControlNet unit {index} has no control image; upload one or remove the unit.")
    return check_unit_settings(unit, index, limits)


def check_budget(request: GenerationRequest, cells: int = 1, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse a job whose size x steps x images is over the server's budget, naming what to lower."""
    images = request.batch_size * cells
    megapixels = request.width * request.height * images / 1e6
    work = megapixels * request.steps
    shape = f"{request.width}x{request.height} x {images} image{'s' if images > 1 else ''}"
    if megapixels > limits.max_job_megapixels:
        raise RequestError(f"This job makes {shape} = {megapixels:.1f} megapixels, over this server's limit of "
                           f"{limits.max_job_megapixels:g}; lower the size, the batch size or the number of conditions.")
    if work > limits.max_job_work:
        raise RequestError(f"This job is {shape} x {request.steps} steps = {work:.0f} megapixel-steps, over this server's "
                           f"limit of {limits.max_job_work:g}; lower the steps, the size, the batch size or the number of conditions.")


def check_settings(request: GenerationRequest, limits: Limits = DEFAULT_LIMITS) -> GenerationRequest:
    """Every request-level field, normalised, plus the unit count: what can be checked before any model work."""
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
    if not isinstance(request.sampler, str) or request.sampler not in SAMPLER_NAMES:
        raise RequestError(f"Unknown sampler {request.sampler!r}; choose one of {', '.join(SAMPLER_NAMES)}.")
    request = replace(
        request,
        steps=_number("steps", request.steps, 1, limits.max_steps, integer=True),
        cfg_scale=_number("cfg_scale", request.cfg_scale, 1.0, limits.max_cfg),
        seed=_number("seed", request.seed, -1, MAX_SEED, integer=True),
        width=_number("width", request.width, limits.min_side, limits.max_side, integer=True),
        height=_number("height", request.height, limits.min_side, limits.max_side, integer=True),
        batch_size=_number("batch_size", request.batch_size, 1, limits.max_batch, integer=True),
        draft=_flag("draft", request.draft),
    )
    for name in ("width", "height"):
        value = getattr(request, name)
        if value % 8:
            raise RequestError(f"{name} must be a multiple of 8 (got {value}); try {value // 8 * 8 or 8}.")
    if request.draft and (request.sampler != "LCM" or request.cfg_scale > 2 or request.steps > 8):
        raise RequestError("Draft mode runs LCM-LoRA: use sampler LCM, at most 8 steps and a CFG scale of at most 2.")
    return request


def validate_request(request: GenerationRequest, limits: Limits = DEFAULT_LIMITS) -> GenerationRequest:
    """Reject anything the engine cannot honour exactly, before any model work starts; return it normalised."""
    request = check_settings(request, limits)
    units = tuple(validate_unit(unit, index, limits) for index, unit in enumerate(request.units))
    return replace(request, units=units)
