"""Each generation setting's facts, declared once on a request dataclass field and read by every surface.

`GenerationRequest` and `ControlUnit` (pipelines/requests.py) declare their fields with `setting(...)`; the
server checks, the infotext writer and parser, the UI's ranges and choices, the gradio API signatures and
Send to Generate all iterate `schema_fields()` instead of listing the parameters again.
"""

from __future__ import annotations

import math
import typing
from dataclasses import MISSING, dataclass, field, fields
from functools import cache
from typing import Any

from pipelines.limits import Limits

Bound = float | str | None  # a number, or the name of a `Limits` attribute (so operators' limits apply everywhere)


class RequestError(ValueError):
    """A request the engine will not run; the message is one sentence a user can act on."""


@dataclass(frozen=True)
class Setting:
    """What a field means outside Python: its infotext key, its AUTOMATIC1111 API key, its range or choices."""

    infotext: str | None  # the key in A1111's infotext (None: written in its own way, as the prompts are)
    a1111: str | None  # the key in A1111's txt2img payload or in sd-webui-controlnet's unit args (None: ours only)
    low: Bound = None
    high: Bound = None  # for text: the longest allowed
    choices: tuple[str, ...] = ()
    omit_default: bool = False  # A1111 leaves `Batch size: 1` out of the infotext
    # the request property under which the setting is used (img2img, inpaint, only_masked); at its default it is
    # written only then (A1111 writes `Denoising strength` on every img2img and never on txt2img)
    when: str | None = None
    coded: bool = False  # A1111's API sends this choice as its index into `choices` (a bool for two)


def setting(default: Any, infotext: str | None, a1111: str | None, **facts: Any) -> Any:
    """A dataclass field carrying its `Setting`."""
    return field(default=default, metadata={"setting": Setting(infotext, a1111, **facts)})


@dataclass(frozen=True)
class SchemaField:
    """One setting of a request class, with its kind derived from the field's type."""

    name: str
    kind: str  # text, optional text, choice, integer, number, optional number, flag
    default: Any
    setting: Setting
    annotation: Any

    def bounds(self, limits: Limits) -> tuple[float, float]:
        return _bound(self.setting.low, limits), _bound(self.setting.high, limits)


def _bound(bound: Bound, limits: Limits) -> float:
    return getattr(limits, bound) if isinstance(bound, str) else (math.inf if bound is None else bound)


def _kind(annotation: Any, facts: Setting) -> str:
    optional = type(None) in typing.get_args(annotation)
    base = next((arg for arg in typing.get_args(annotation) if arg is not type(None)), annotation)
    if base is bool:
        return "flag"
    if base is int:
        return "integer"
    if base is float:
        return "optional number" if optional else "number"
    if facts.choices:
        return "choice"
    return "optional text" if optional else "text"


@cache
def schema_fields(cls: type) -> tuple[SchemaField, ...]:
    """The settings of a request dataclass in declaration order (fields without a `Setting` are not settings)."""
    hints = typing.get_type_hints(cls)
    found = []
    for item in fields(cls):
        facts = item.metadata.get("setting")
        if facts is not None:
            default = None if item.default is MISSING else item.default
            found.append(SchemaField(item.name, _kind(hints[item.name], facts), default, facts, hints[item.name]))
    return tuple(found)


def number(name: str, value: object, low: float, high: float, integer: bool = False) -> float:
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


def check_value(item: SchemaField, value: object, limits: Limits, where: str = "") -> Any:
    """One field's value checked against its kind and range, normalised; the message names the field."""
    name = f"{where}{item.name}"
    if value is None and item.kind.startswith("optional"):
        return None
    if item.kind == "flag":
        if not isinstance(value, bool):  # `bool("no")` is True, so strings and numbers are refused rather than guessed
            raise RequestError(f"{name} must be true or false, got {value!r}.")
        return value
    if item.kind in ("integer", "number", "optional number"):
        low, high = item.bounds(limits)
        return number(name, value, low, high, integer=item.kind == "integer")
    if item.kind == "choice":
        if not isinstance(value, str) or value not in item.setting.choices:
            raise RequestError(f"{name} must be one of {', '.join(item.setting.choices)}; got {value!r}.")
        return value
    if not isinstance(value, str):
        raise RequestError(f"{name} must be text.")
    longest = _bound(item.setting.high, limits)
    if len(value) > longest:
        raise RequestError(f"{name} is {len(value)} characters long; keep it under {longest:g}.")
    return value


def check_fields(obj: Any, limits: Limits, where: str = "") -> dict[str, Any]:
    """Every setting of a request object, checked and normalised, by name (for `dataclasses.replace`)."""
    return {item.name: check_value(item, getattr(obj, item.name), limits, where) for item in schema_fields(type(obj))}


def api_parameters(cls: type, skip: tuple[str, ...] = ()) -> list[tuple[str, Any, Any]]:
    """(name, annotation, default) of each setting, as a keyword-callable API exposes them."""
    return [(item.name, item.annotation, item.default) for item in schema_fields(cls) if item.name not in skip]
