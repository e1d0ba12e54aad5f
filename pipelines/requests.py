"""Requests and results that cross the engine's seam (the one schema of every setting), and their checks."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from PIL import Image

from pipelines.controlnets import CONDITIONS
from pipelines.limits import DEFAULT_LIMITS, Limits
from pipelines.samplers import SAMPLER_NAMES
from pipelines.schema import RequestError, check_fields, setting

CONTROL_MODES = ("Balanced", "My prompt is more important", "ControlNet is more important")
RESIZE_MODES = ("Just Resize", "Crop and Resize", "Resize and Fill")
MAX_SEED = 2**32 - 1
AUTO = "auto"  # a unit's condition before the studio resolves it to its preprocessor's
MAX_NAME_CHARS = 1000  # a module, family or condition name; a model id or path


@dataclass(frozen=True)
class ControlUnit:
    """One ControlNet unit: a ready condition map plus how strongly and when it steers.

    Before the studio's preprocessing, `image` is the raw upload, `condition` may be "auto" and `family` empty;
    the engine gets the map and the resolved values, and records them."""

    image: Any
    module: str = setting("none", "Module", "module", high=MAX_NAME_CHARS)
    model: str | None = setting(None, "Model", "model", high=MAX_NAME_CHARS)
    weight: float = setting(1.0, "Weight", "weight", low=0.0, high="max_weight")
    resize_mode: str = setting("Crop and Resize", "Resize Mode", "resize_mode", choices=RESIZE_MODES)
    processor_res: int = setting(512, "Processor Res", "processor_res", low="min_processor_res", high="max_processor_res")
    # the registry checks each preprocessor's own range; these bounds only keep junk out of the arithmetic
    threshold_a: float | None = setting(None, "Threshold A", "threshold_a", low=-1e6, high=1e6)
    threshold_b: float | None = setting(None, "Threshold B", "threshold_b", low=-1e6, high=1e6)
    guidance_start: float = setting(0.0, "Guidance Start", "guidance_start", low=0.0, high=1.0)
    guidance_end: float = setting(1.0, "Guidance End", "guidance_end", low=0.0, high=1.0)
    pixel_perfect: bool = setting(False, "Pixel Perfect", "pixel_perfect")
    control_mode: str = setting("Balanced", "Control Mode", "control_mode", choices=CONTROL_MODES)
    condition: str = setting(AUTO, "Condition", None, choices=(AUTO, *CONDITIONS))  # sd-webui-controlnet reads it off the model
    family: str = setting("", "Family", None, high=MAX_NAME_CHARS)  # the preprocessor's family ("" = the module's)
    # the preprocessor whose map the artist edited by hand ("" = not edited); the map then comes as the image, module
    # "none", as A1111 records a hand-made map, and this names the condition it was made for
    edited_from: str = setting("", "Edited from", None, high=MAX_NAME_CHARS, omit_default=True)


@dataclass(frozen=True)
class GenerationRequest:
    """Everything that decides the pixels of a generation (and so goes into the infotext)."""

    prompt: str = setting("", None, "prompt", high="max_prompt_chars")  # the infotext's first lines
    negative_prompt: str = setting("", None, "negative_prompt", high="max_prompt_chars")  # its `Negative prompt:` line
    units: tuple[ControlUnit, ...] = ()
    steps: int = setting(20, "Steps", "steps", low=1, high="max_steps")
    sampler: str = setting("Euler a", "Sampler", "sampler_name", choices=SAMPLER_NAMES)
    cfg_scale: float = setting(7.0, "CFG scale", "cfg_scale", low=1.0, high="max_cfg")
    seed: int = setting(-1, "Seed", "seed", low=-1, high=MAX_SEED)
    width: int = setting(512, "Size", "width", low="min_side", high="max_side")  # `Size: WxH`, width first
    height: int = setting(512, "Size", "height", low="min_side", high="max_side")
    batch_size: int = setting(1, "Batch size", "batch_size", low=1, high="max_batch", omit_default=True)
    # LCM-LoRA fast draft: needs sampler "LCM", 4-8 steps, CFG <= 2
    draft: bool = setting(False, "Draft", None, omit_default=True)


@dataclass
class GenerationResult:
    """Images with the seeds, maps and infotext that reproduce them; `request` holds the values actually used."""

    images: list[Image.Image]
    seeds: list[int]
    maps: list[Image.Image]
    infotexts: list[str]
    request: GenerationRequest
    notes: list[str] = field(default_factory=list)


def check_unit_settings(unit: ControlUnit, index: int, limits: Limits = DEFAULT_LIMITS) -> ControlUnit:
    """Every field of a unit except its map, normalised (whole numbers as int); run before any preprocessor work."""
    where = f"ControlNet unit {index}"
    unit = replace(unit, **check_fields(unit, limits, f"{where} "))
    if unit.guidance_start > unit.guidance_end:
        raise RequestError(f"{where} guidance_start ({unit.guidance_start:g}) must not exceed guidance_end ({unit.guidance_end:g}).")
    return unit


def validate_unit(unit: ControlUnit, index: int, limits: Limits = DEFAULT_LIMITS) -> ControlUnit:
    """Check one unit as the engine gets it: a map, and a condition already resolved; the message says which unit."""
    if not isinstance(unit.image, Image.Image):
        raise RequestError(f"ControlNet unit {index} has no control image; upload one or remove the unit.")
    if unit.condition == AUTO:
        raise RequestError(f"ControlNet unit {index} needs a condition ({', '.join(CONDITIONS)}); "
                           "only the studio resolves 'auto' from its preprocessor.")
    return check_unit_settings(unit, index, limits)


def check_budget(request: GenerationRequest, cells: int = 1, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse a job whose size x steps x images is over the server's budget, naming what to lower."""
    check_matrix_budget([request] * cells, limits)


def check_matrix_budget(cells: list[GenerationRequest], limits: Limits = DEFAULT_LIMITS) -> None:
    """The budget over every cell of a job (they may differ in size, steps and batch), decided before it starts."""
    images = sum(cell.batch_size for cell in cells)
    megapixels = sum(cell.width * cell.height * cell.batch_size for cell in cells) / 1e6
    work = sum(cell.width * cell.height * cell.batch_size * cell.steps for cell in cells) / 1e6
    first = cells[0]
    same = all((c.width, c.height, c.steps) == (first.width, first.height, first.steps) for c in cells)
    shape = f"{first.width}x{first.height} x {images} image{'s' if images > 1 else ''}" if same else f"{images} images"
    if megapixels > limits.max_job_megapixels:
        raise RequestError(f"This job makes {shape} = {megapixels:.1f} megapixels, over this server's limit of "
                           f"{limits.max_job_megapixels:g}; lower the size, the batch size or the number of conditions.")
    if work > limits.max_job_work:
        steps = f" x {first.steps} steps" if same else ""
        raise RequestError(f"This job is {shape}{steps} = {work:.0f} megapixel-steps, over this server's "
                           f"limit of {limits.max_job_work:g}; lower the steps, the size, the batch size or the number of conditions.")


def check_settings(request: GenerationRequest, limits: Limits = DEFAULT_LIMITS) -> GenerationRequest:
    """Every request-level field, normalised, plus the unit count: what can be checked before any model work."""
    if not isinstance(request.units, (tuple, list)) or len(request.units) > limits.max_units:
        count = len(request.units) if isinstance(request.units, (tuple, list)) else request.units
        raise RequestError(f"At most {limits.max_units} ControlNet units can be used at once; got {count}.")
    request = replace(request, **check_fields(request, limits))
    for name in ("prompt", "negative_prompt"):
        try:
            getattr(request, name).encode("utf-8")  # what the tokenizer and the PNG text chunk need
        except UnicodeEncodeError:
            raise RequestError(f"{name} contains characters that are not valid Unicode text (lone surrogates); remove them.") from None
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
