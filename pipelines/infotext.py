"""AUTOMATIC1111's infotext: write it into every PNG, and read it (ours or A1111's) back into a request."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from PIL import Image

from pipelines.controlnets import CONTROLNET_MODELS, short_name
from pipelines.param_line import param_pairs
from pipelines.requests import ControlUnit, GenerationRequest, RequestError
from pipelines.samplers import SAMPLER_NAMES

VERSION = "controlnet-studio 0.1"
# Far above any infotext this app or A1111 writes (two 10 000-character prompts and three units are ~22 000);
# text from an untrusted PNG is refused past it before any parsing.
MAX_INFOTEXT_CHARS = 100_000
_UNIT_KEY = re.compile(r"^ControlNet (\d+)$")
_HASH_SUFFIX = re.compile(r"\s*\[[0-9a-fA-F]{8,}\]$")


def _quote(text: str) -> str:
    """Quote like A1111: only values holding a comma, colon, quote or newline need JSON quoting."""
    if not any(mark in text for mark in (",", ":", '"', "\n")):
        return text
    return json.dumps(text, ensure_ascii=False)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


def _number(value: float) -> str:
    """A1111's short form (7, 0.35) when it reads back exactly, else the shortest exact form (0.123456789)."""
    if not isinstance(value, float):
        return str(value)
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def unit_text(unit: ControlUnit, model_name: str) -> str:
    """The quoted `ControlNet N` value: the unit's settings as A1111's extension writes them."""
    pairs = [
        ("Module", unit.module), ("Model", model_name), ("Weight", _number(float(unit.weight))),
        ("Resize Mode", unit.resize_mode), ("Processor Res", str(unit.processor_res)),
        ("Threshold A", "" if unit.threshold_a is None else _number(float(unit.threshold_a))),
        ("Threshold B", "" if unit.threshold_b is None else _number(float(unit.threshold_b))),
        ("Guidance Start", _number(float(unit.guidance_start))), ("Guidance End", _number(float(unit.guidance_end))),
        ("Pixel Perfect", str(bool(unit.pixel_perfect))), ("Control Mode", unit.control_mode),
        ("Condition", unit.condition),
    ]
    return ", ".join(f"{key}: {_quote(value)}" for key, value in pairs)


def _model_label(condition: str, model_id: str) -> str:
    """The v1.1 default is written by its short name, as A1111 does; any other model by its full id."""
    default = CONTROLNET_MODELS.get(condition)
    return short_name(model_id) if model_id == default else model_id


def _model_from_label(condition: str, label: str) -> str | None:
    label = _HASH_SUFFIX.sub("", label)  # A1111 writes `control_v11p_sd15_canny [d14c016b]`
    default = CONTROLNET_MODELS.get(condition)
    return None if label in ("", "None") or (default and label == short_name(default)) else label


def _condition_for(unit: dict[str, str]) -> str:
    """Ours write `Condition`; A1111's extension does not, so it is read off the model, then the module name."""
    if unit.get("Condition"):
        return unit["Condition"]
    label = _HASH_SUFFIX.sub("", unit.get("Model", ""))
    for condition, repo in CONTROLNET_MODELS.items():
        if label == short_name(repo):
            return condition
    module = unit.get("Module", "")
    for condition in sorted(CONTROLNET_MODELS, key=len, reverse=True):  # lineart_anime before lineart
        if condition in module:
            return condition
    return "canny"


def _sampler(params: dict[str, str]) -> str:
    """A1111 >= 1.9 writes `Sampler: DPM++ 2M, Schedule type: Karras` for what it used to call `DPM++ 2M Karras`."""
    name = params.get("Sampler", "Euler a")
    combined = f"{name} {params.get('Schedule type', '')}"
    return combined if combined in SAMPLER_NAMES else name


def build_infotext(request: GenerationRequest, seed: int, model_name: str, unit_models: list[str]) -> str:
    """Prompt line, Negative prompt line, then the parameter line, exactly in A1111's shape."""
    params = [
        ("Steps", str(request.steps)), ("Sampler", request.sampler), ("CFG scale", _number(float(request.cfg_scale))),
        ("Seed", str(seed)), ("Size", f"{request.width}x{request.height}"), ("Model", model_name),
    ]
    if request.batch_size > 1:
        params.append(("Batch size", str(request.batch_size)))
    if request.draft:
        params.append(("Draft", "LCM-LoRA"))
    for index, (unit, name) in enumerate(zip(request.units, unit_models)):
        label = _model_label(unit.condition, name)
        params.append((f"ControlNet {index}", json.dumps(unit_text(unit, label), ensure_ascii=False)))
    params.append(("Version", VERSION))
    lines = [request.prompt]
    if request.negative_prompt:
        lines.append(f"Negative prompt: {request.negative_prompt}")
    lines.append(", ".join(f"{key}: {value if key.startswith('ControlNet ') else _quote(value)}" for key, value in params))
    return "\n".join(lines)


@dataclass
class ParsedInfotext:
    """What an infotext says: the prompts, every key as text, and the units' fields."""

    prompt: str
    negative_prompt: str
    params: dict[str, str]
    units: list[dict[str, str]] = field(default_factory=list)


def parse_infotext(text: str) -> ParsedInfotext:
    """Read A1111's format: the last line holds params when it has at least 3 `Key: value` pairs."""
    if len(text) > MAX_INFOTEXT_CHARS:
        raise RequestError(f"The image's parameters text is {len(text)} characters long, more than any real infotext "
                           f"({MAX_INFOTEXT_CHARS}); it was not read.")
    lines = text.strip("\n").split("\n")
    params: dict[str, str] = {}
    last_pairs = param_pairs(lines[-1]) if lines else []
    if len(last_pairs) >= 3:
        lines.pop()
        params = {key.strip(): _unquote(value) for key, value in last_pairs}
    prompt_lines, negative_lines, in_negative = [], [], False
    for line in lines:
        if line.startswith("Negative prompt:"):
            in_negative = True
            line = line[len("Negative prompt:"):].lstrip(" ")
        (negative_lines if in_negative else prompt_lines).append(line)
    units = []
    for key in sorted((k for k in params if _UNIT_KEY.match(k)), key=lambda k: int(_UNIT_KEY.match(k).group(1))):
        units.append({name.strip(): _unquote(value) for name, value in param_pairs(params[key])})
    return ParsedInfotext("\n".join(prompt_lines), "\n".join(negative_lines), params, units)


def _optional_float(value: str | None) -> float | None:
    return None if value in (None, "", "None") else float(value)


def request_from_infotext(text: str, control_image: Image.Image | None = None) -> GenerationRequest:
    """Rebuild the request an infotext describes; unit maps come from `control_image` (not stored in text)."""
    parsed = parse_infotext(text)
    p = parsed.params
    width, height = (int(v) for v in p.get("Size", "512x512").split("x"))
    blank = control_image if control_image is not None else Image.new("RGB", (width, height))
    units = tuple(
        ControlUnit(
            image=blank,
            condition=_condition_for(u),
            module=u.get("Module", "none"),
            model=_model_from_label(_condition_for(u), u.get("Model", "")),
            weight=float(u.get("Weight", 1)),
            guidance_start=float(u.get("Guidance Start", 0)),
            guidance_end=float(u.get("Guidance End", 1)),
            control_mode=u.get("Control Mode", "Balanced"),
            resize_mode=u.get("Resize Mode", "Crop and Resize"),
            processor_res=int(float(u.get("Processor Res", 512))),
            threshold_a=_optional_float(u.get("Threshold A")),
            threshold_b=_optional_float(u.get("Threshold B")),
            pixel_perfect=u.get("Pixel Perfect", "False") == "True",
        )
        for u in parsed.units
    )
    return GenerationRequest(
        prompt=parsed.prompt,
        negative_prompt=parsed.negative_prompt,
        units=units,
        steps=int(p.get("Steps", 20)),
        cfg_scale=float(p.get("CFG scale", 7)),
        sampler=_sampler(p),
        seed=int(p.get("Seed", -1)),
        width=width,
        height=height,
        batch_size=int(p.get("Batch size", 1)),
        draft=p.get("Draft") == "LCM-LoRA",
    )
