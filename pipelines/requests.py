"""Requests and results that cross the engine's seam (the one schema of every setting), and their checks."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from PIL import Image

from pipelines.architectures import CONDITIONS
from pipelines.limits import DEFAULT_LIMITS, Limits
from pipelines.samplers import SAMPLER_NAMES
from pipelines.schema import RequestError, check_fields, setting

CONTROL_MODES = ("Balanced", "My prompt is more important", "ControlNet is more important")
RESIZE_MODES = ("Just Resize", "Crop and Resize", "Resize and Fill")
# A1111's img2img choices, in the order its API numbers them (inpainting_fill 0-3, inpainting_mask_invert 0/1,
# inpaint_full_res false/true)
MASKED_CONTENT = ("fill", "original", "latent noise", "latent nothing")
MASK_MODES = ("Inpaint masked", "Inpaint not masked")
INPAINT_AREAS = ("Whole picture", "Only masked")
# hires fix's upscalers (A1111's names): the latent ones resize the first pass's latents (torch's interpolation
# modes), the others its decoded picture (PIL); model upscalers such as ESRGAN are not here
LATENT_UPSCALERS = {"Latent": ("bilinear", False), "Latent (antialiased)": ("bilinear", True),
                    "Latent (bicubic)": ("bicubic", False), "Latent (bicubic antialiased)": ("bicubic", True),
                    "Latent (nearest)": ("nearest", False), "Latent (nearest-exact)": ("nearest-exact", False)}
HR_UPSCALERS = (*LATENT_UPSCALERS, "Lanczos", "Nearest")
HR_OPTIONS = ("Both", "Low res only", "High res only")  # sd-webui-controlnet's per-unit hires choice
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
    hr_option: str = setting("Both", "Hr Option", "hr_option", choices=HR_OPTIONS, omit_default=True)  # hires fix passes


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
    # img2img and inpaint (A1111's semantics): the picture to start from and the mask of what to repaint (white =
    # repaint), both images and so, like a unit's map, not in the infotext; the settings below are
    init_image: Any = None
    mask: Any = None
    denoising_strength: float = setting(0.75, "Denoising strength", "denoising_strength", low=0.0, high=1.0,
                                        when="denoises")
    init_resize_mode: str = setting("Just Resize", "Resize mode", "resize_mode", choices=RESIZE_MODES, omit_default=True,
                               when="img2img", coded=True)
    mask_blur: int = setting(4, "Mask blur", "mask_blur", low=0, high=64, when="inpaint")
    mask_mode: str = setting("Inpaint masked", "Mask mode", "inpainting_mask_invert", choices=MASK_MODES,
                             omit_default=True, when="inpaint", coded=True)
    masked_content: str = setting("original", "Masked content", "inpainting_fill", choices=MASKED_CONTENT,
                                  when="inpaint", coded=True)
    inpaint_area: str = setting("Whole picture", "Inpaint area", "inpaint_full_res", choices=INPAINT_AREAS,
                                omit_default=True, when="inpaint", coded=True)
    inpaint_padding: int = setting(32, "Masked area padding", "inpaint_full_res_padding", low=0, high=256,
                                   when="only_masked")
    # hires fix (txt2img): a first pass at width x height, upscaled, then a second pass of img2img at the larger size
    enable_hr: bool = setting(False, "Hires fix", "enable_hr", omit_default=True)
    hr_scale: float = setting(2.0, "Hires upscale", "hr_scale", low=1.0, high=4.0, when="enable_hr")
    hr_upscaler: str = setting("Latent", "Hires upscaler", "hr_upscaler", choices=HR_UPSCALERS, when="enable_hr")
    hr_second_pass_steps: int = setting(0, "Hires steps", "hr_second_pass_steps", low=0, high="max_steps",
                                        omit_default=True, when="enable_hr")  # 0: the first pass's steps
    hr_resize_x: int = setting(0, "Hires resize", "hr_resize_x", low=0, high="max_side", omit_default=True,
                               when="enable_hr")  # `Hires resize: WxH` instead of the scale; 0 = from the scale
    hr_resize_y: int = setting(0, "Hires resize", "hr_resize_y", low=0, high="max_side", omit_default=True,
                               when="enable_hr")

    @property
    def denoises(self) -> bool:
        """Denoising strength is used: img2img, inpaint or hires fix's second pass."""
        return self.init_image is not None or self.enable_hr

    @property
    def hires_size(self) -> tuple[int, int]:
        """Hires fix's output size: Hires resize (one side given: the other keeps the aspect), else the size x the
        scale; multiples of 8, as latents need."""
        width, height = self.hr_resize_x, self.hr_resize_y
        if not width and not height:
            width, height = self.width * self.hr_scale, self.height * self.hr_scale
        elif not height:
            height = width * self.height / self.width
        elif not width:
            width = height * self.width / self.height
        return max(8, int(width) // 8 * 8), max(8, int(height) // 8 * 8)

    @property
    def img2img(self) -> bool:
        """It starts from a picture (inpaint included)."""
        return self.init_image is not None

    @property
    def inpaint(self) -> bool:
        return self.mask is not None

    @property
    def only_masked(self) -> bool:
        return self.mask is not None and self.inpaint_area == "Only masked"


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


def _output_pixels(request: GenerationRequest) -> int:
    """An only-masked inpaint is worked on at the output size but pasted back into the whole picture; hires fix
    makes its larger size."""
    if request.only_masked and isinstance(request.init_image, Image.Image):
        return max(request.init_image.width * request.init_image.height, request.width * request.height)
    if request.enable_hr:
        return request.hires_size[0] * request.hires_size[1]
    return request.width * request.height


def _work(request: GenerationRequest) -> float:
    """Pixel-steps of one image: the first pass, plus hires fix's second pass at its size."""
    work = request.width * request.height * request.steps
    if request.enable_hr:
        work += _output_pixels(request) * (request.hr_second_pass_steps or request.steps)
    return work


def check_matrix_budget(cells: list[GenerationRequest], limits: Limits = DEFAULT_LIMITS) -> None:
    """The budget over every cell of a job (they may differ in size, steps and batch), decided before it starts."""
    images = sum(cell.batch_size for cell in cells)
    megapixels = sum(_output_pixels(cell) * cell.batch_size for cell in cells) / 1e6
    work = sum(_work(cell) * cell.batch_size for cell in cells) / 1e6
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
    if request.enable_hr and max(request.hires_size) > limits.max_side:
        raise RequestError(f"Hires fix would make {request.hires_size[0]}x{request.hires_size[1]}, over this server's "
                           f"largest side of {limits.max_side}; lower Hires upscale or the size.")
    if request.draft and (request.sampler != "LCM" or request.cfg_scale > 2 or request.steps > 8):
        raise RequestError("Draft mode runs LCM-LoRA: use sampler LCM, at most 8 steps and a CFG scale of at most 2.")
    return request


def check_pictures(request: GenerationRequest) -> None:
    """img2img's picture and inpaint's mask: images, the mask only with a picture and with something painted on it."""
    from PIL import ImageOps

    if request.init_image is not None and not isinstance(request.init_image, Image.Image):
        raise RequestError("The img2img picture is not an image; upload a PNG, JPEG or WebP.")
    if request.init_image is not None and request.enable_hr:
        raise RequestError("Hires fix is for text-to-image; for img2img set the larger size directly (or untick Hires fix).")
    if request.mask is None:  # img2img: the inpaint settings wait unused, as in A1111
        return
    if not isinstance(request.mask, Image.Image):
        raise RequestError("The inpaint mask is not an image; paint it, or upload a black-and-white PNG.")
    if request.init_image is None:
        raise RequestError("An inpaint mask needs the picture it belongs to; upload the img2img picture as well.")
    mask = request.mask.convert("L")
    if request.mask_mode == "Inpaint not masked":
        mask = ImageOps.invert(mask)
    if mask.getextrema()[1] == 0:
        raise RequestError("The mask leaves nothing to repaint; paint the area to change in white (or switch the mask "
                           "mode), or remove the mask to repaint the whole picture.")


def validate_request(request: GenerationRequest, limits: Limits = DEFAULT_LIMITS) -> GenerationRequest:
    """Reject anything the engine cannot honour exactly, before any model work starts; return it normalised."""
    request = check_settings(request, limits)
    check_pictures(request)
    units = tuple(validate_unit(unit, index, limits) for index, unit in enumerate(request.units))
    return replace(request, units=units)
