"""AUTOMATIC1111's infotext: write it into every PNG, and read it (ours or A1111's) back into a request."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from PIL import Image

from pipelines.architectures import SD15, UNION_TYPE_NAMES, Architecture, default_controlnets
from pipelines.controlnets import CONTROLNET_MODELS, short_name
from pipelines.param_line import param_pairs
from pipelines.requests import ControlUnit, GenerationRequest, RequestError
from pipelines.samplers import SAMPLER_NAMES
from pipelines.schema import SchemaField, schema_fields

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


def _format(item: SchemaField, value: object) -> str:
    if value is None:
        return ""
    if item.kind in ("number", "optional number"):
        return _number(float(value))
    return str(value)


def _parse(item: SchemaField, text: str, key: str) -> object:
    """One value read back by its field's kind; a value that does not fit gives a sentence naming the key."""
    text = text.strip()
    try:
        if item.kind == "flag":
            return text == "True"
        if item.kind == "integer":
            return int(text) if text.lstrip("-").isdigit() else int(float(text))
        if item.kind in ("number", "optional number"):
            return None if item.kind == "optional number" and text in ("", "None") else float(text)
    except ValueError:
        raise RequestError(f"The infotext's {key} value {text!r} is not a number.") from None
    return None if item.kind == "optional text" and text in ("", "None") else text


def _groups(cls: type) -> list[tuple[str, list[SchemaField]]]:
    """Fields by infotext key, in order; fields sharing a key are written together as `AxB` (width and height: Size)."""
    groups: dict[str, list[SchemaField]] = {}
    for item in schema_fields(cls):
        if item.setting.infotext:
            groups.setdefault(item.setting.infotext, []).append(item)
    return list(groups.items())


def _written(obj: object, cls: type) -> list[tuple[str, str]]:
    """(key, text) of each setting, as A1111 writes them (a default it omits is left out)."""
    pairs = []
    for key, items in _groups(cls):
        values = [getattr(obj, item.name) for item in items]
        if all(value == item.default and (item.setting.omit_default or not _applies(obj, item))
               for item, value in zip(items, values)):
            continue
        pairs.append((key, "x".join(_format(item, value) for item, value in zip(items, values))))
    return pairs


def _applies(obj: object, item: SchemaField) -> bool:
    """Whether the request uses this setting (one without a `when` is always used)."""
    return item.setting.when is None or bool(getattr(obj, item.setting.when))


def _read(params: dict[str, str], cls: type) -> dict[str, object]:
    """The fields whose keys an infotext holds, by name (a missing key leaves the field's default)."""
    values: dict[str, object] = {}
    for key, items in _groups(cls):
        if key not in params:
            continue
        parts = params[key].split("x") if len(items) > 1 else [params[key]]
        if len(parts) != len(items):
            raise RequestError(f"The infotext's {key} value {params[key]!r} should have {len(items)} parts separated by x.")
        values.update({item.name: _parse(item, part, key) for item, part in zip(items, parts)})
    return values


def unit_text(unit: ControlUnit, union_type: int | None = None) -> str:
    """The quoted `ControlNet N` value: the unit's settings as A1111's extension writes them, and for a union model
    the control type it was told (derived from the condition, so only written, never read back)."""
    pairs = [(key, _model_label(unit.condition, value) if key == "Model" else value) for key, value in _written(unit, ControlUnit)]
    if union_type is not None:
        pairs.append(("Union Control Type", UNION_TYPE_NAMES[union_type]))
    return ", ".join(f"{key}: {_quote(value)}" for key, value in pairs)


def _model_label(condition: str, model_id: str) -> str:
    """A default (SD1.5's v1.1, SDXL's union) is written by its short name, as A1111 does; any other by its full id."""
    return short_name(model_id) if model_id in default_controlnets(condition) else model_id


def _model_from_label(condition: str, label: str) -> str | None:
    """The full id back from a label: a default's short name (with or without A1111's hash) is that repo."""
    label = _HASH_SUFFIX.sub("", label)  # A1111 writes `control_v11p_sd15_canny [d14c016b]`
    if label in ("", "None"):
        return None
    return next((model for model in default_controlnets(condition) if label == short_name(model)), label)


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


def build_infotext(request: GenerationRequest, model_name: str, architecture: Architecture = SD15,
                   union_types: tuple[int | None, ...] = ()) -> str:
    """Prompt line, Negative prompt line, then the parameter line, exactly in A1111's shape; every value is the one
    used (the caller passes the image's own seed, each unit's loaded model and a union model's control types). SDXL
    images also say `Architecture: SDXL` (A1111 has no such key; SD1.5 infotexts stay exactly as A1111's)."""
    params = _written(request, GenerationRequest)
    if not request.enable_hr and any(key.startswith("Hires ") for key, _ in params):
        params.append(("Hires fix", "False"))  # hires settings written at their non-defaults, but hires was off
    size = next(index for index, (key, _) in enumerate(params) if key == "Size")
    params.insert(size + 1, ("Model", model_name))  # where A1111 writes it
    if architecture is not SD15:
        params.insert(size + 2, ("Architecture", architecture.label))
    types = (*union_types, *[None] * (len(request.units) - len(union_types)))
    for index, (unit, union_type) in enumerate(zip(request.units, types)):
        params.append((f"ControlNet {index}", json.dumps(unit_text(unit, union_type), ensure_ascii=False)))
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
            line = line[len("Negative prompt:"):]
            line = line[1:] if line.startswith(" ") else line  # the one space the writer puts; the text's own stay
        (negative_lines if in_negative else prompt_lines).append(line)
    units = []
    for key in sorted((k for k in params if _UNIT_KEY.match(k)), key=lambda k: int(_UNIT_KEY.match(k).group(1))):
        units.append({name.strip(): _unquote(value) for name, value in param_pairs(params[key])})
    return ParsedInfotext(prompt="\n".join(prompt_lines), negative_prompt="\n".join(negative_lines), params=params, units=units)


def request_from_infotext(text: str, control_image: Image.Image | None = None) -> GenerationRequest:
    """Rebuild the request an infotext describes; unit maps come from `control_image` (not stored in text)."""
    parsed = parse_infotext(text)
    values = _read(parsed.params, GenerationRequest)
    if "Hires fix" not in parsed.params and ("Hires upscale" in parsed.params or "Hires resize" in parsed.params):
        values["enable_hr"] = True  # A1111 says hires fix was on by its settings alone
    if "Sampler" in parsed.params:
        values["sampler"] = _sampler(parsed.params)
    blank = control_image if control_image is not None else Image.new("RGB", (values.get("width", 512), values.get("height", 512)))
    units = []
    for unit in parsed.units:
        unit_values = _read(unit, ControlUnit)
        condition = _condition_for(unit)
        unit_values.update(condition=condition, model=_model_from_label(condition, unit.get("Model", "")))
        units.append(ControlUnit(image=blank, **unit_values))
    return GenerationRequest(prompt=parsed.prompt, negative_prompt=parsed.negative_prompt, units=tuple(units), **values)
