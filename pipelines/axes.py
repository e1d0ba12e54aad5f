"""An XY matrix's row axis: one setting of the request schema and its values, written in A1111's XYZ-plot syntax.

The syntax (what AUTOMATIC1111's XYZ plot accepts, so its users' habits carry over):
- a list: `0.4, 0.7, 1` (CSV: quote a value that holds a comma, `"a, b", c`);
- a range with a step: `0.2-1.0 (+0.2)`, `10-4 (-2)` (ends included when the step lands on them);
- a range of N evenly spaced values: `1-10 [4]`;
- a plain integer range: `1-5` (step 1).
The values are checked with the schema's own check for that field, so a value the engine would refuse is refused
here, naming it, before any model work. `prompt_sr` is A1111's "Prompt S/R": the first value is the text to find in the
prompt, and each value (the first included) replaces it, one row each.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass

from pipelines.limits import DEFAULT_LIMITS, Limits
from pipelines.requests import ControlUnit, GenerationRequest
from pipelines.schema import RequestError, SchemaField, check_value, schema_fields

PROMPT_SR = "prompt_sr"
# Settings an artist sweeps; each is one field of the schema (unit fields apply to every unit of a cell).
REQUEST_AXES = ("seed", "cfg_scale", "steps", "sampler", "denoising_strength")
UNIT_AXES = ("weight", "guidance_start", "guidance_end", "control_mode", "resize_mode", "processor_res", "threshold_a",
             "threshold_b")
AXES = ("none", *UNIT_AXES, *REQUEST_AXES, PROMPT_SR)
MAX_AXIS_TEXT = 2000

_NUMBER = r"[+-]?\s*(?:\d+(?:\.\d*)?|\.\d+)"
_STEP_RANGE = re.compile(rf"^\s*({_NUMBER})\s*-\s*({_NUMBER})\s*\(\s*([+-]\s*(?:\d+(?:\.\d*)?|\.\d+))\s*\)\s*$")
_COUNT_RANGE = re.compile(rf"^\s*({_NUMBER})\s*-\s*({_NUMBER})\s*\[\s*(\d+)\s*\]\s*$")
_PLAIN_RANGE = re.compile(r"^\s*([+-]?\s*\d+)\s*-\s*([+-]?\s*\d+)\s*$")


@dataclass(frozen=True)
class Axis:
    """A parsed axis: the setting it varies and one value per row (for Prompt S/R, the replacement texts)."""

    name: str
    values: tuple[object, ...]


def _field(name: str) -> SchemaField:
    fields = {item.name: item for item in (*schema_fields(GenerationRequest), *schema_fields(ControlUnit))}
    return fields[name]


def _float(text: str) -> float:
    return float(text.replace(" ", ""))


def _range(text: str, integer: bool, limit: int) -> list[float] | None:
    """The values a range item stands for, or None when the item is not a range."""
    if match := _COUNT_RANGE.match(text):
        start, end, count = _float(match[1]), _float(match[2]), int(match[3])
        if count < 1:
            raise RequestError(f"'{text.strip()}' asks for {count} values; ask for at least 1.")
        if count > limit:
            raise RequestError(f"'{text.strip()}' asks for {count} values; this server allows {limit} rows.")
        values = [start] if count == 1 else [start + (end - start) * index / (count - 1) for index in range(count)]
        # evenly spaced whole numbers are rounded (1-10 [4] is 1, 4, 7, 10); fractions keep 10 decimals
        return [round(value) if integer else round(value, 10) for value in values]
    match = _STEP_RANGE.match(text) or (_PLAIN_RANGE.match(text) if integer else None)
    if not match:
        return None
    start, end = _float(match[1]), _float(match[2])
    step = _float(match[3]) if match.lastindex == 3 else (1.0 if end >= start else -1.0)
    if step == 0:
        raise RequestError(f"'{text.strip()}' has a step of 0; use a step such as (+0.1).")
    if (end - start) * step < 0:
        raise RequestError(f"'{text.strip()}' steps away from its end; use ({'-' if step > 0 else '+'}{abs(step):g}).")
    count = math.floor((end - start) / step + 1e-9) + 1
    if count > limit:
        raise RequestError(f"'{text.strip()}' makes {count} values; this server allows {limit} rows.")
    # start + i*step, rounded, so 0.1-0.3 (+0.1) is 0.1, 0.2, 0.3 and not 0.30000000000000004
    return [round(start + index * step, 10) for index in range(count)]


def _items(text: str) -> list[str]:
    """A1111's split: CSV with spaces after commas ignored, quotes for values that hold a comma, empty items dropped."""
    rows = csv.reader(io.StringIO(text), skipinitialspace=True)
    return [item.strip() for row in rows for item in row if item.strip()]


def parse_axis(name: str, text: str, limits: Limits = DEFAULT_LIMITS) -> Axis:
    """The axis `name` with the values `text` describes, each checked as the engine would; refusals name the value."""
    if name in ("none", "", None):
        return Axis("none", (None,))
    if name not in AXES:
        raise RequestError(f"{name!r} cannot be an axis; choose one of {', '.join(AXES)}.")
    if isinstance(text, str) and len(text) > MAX_AXIS_TEXT:
        raise RequestError(f"The {name} axis values are {len(text)} characters long; keep them under {MAX_AXIS_TEXT}.")
    items = _items(text) if isinstance(text, str) else []
    if not items:
        raise RequestError(f"Give the {name} axis at least one value, e.g. {_example(name)}.")
    if name == PROMPT_SR:
        if len(items) > limits.max_matrix_rows:
            raise RequestError(f"The prompt S/R axis has {len(items)} values; this server allows {limits.max_matrix_rows} rows.")
        return Axis(name, tuple(items))
    item = _field(name)
    values: list[object] = []
    for raw in items:
        numeric = item.kind in ("integer", "number", "optional number")
        expanded = _range(raw, item.kind == "integer", limits.max_matrix_rows) if numeric else None
        for value in expanded if expanded is not None else [raw]:
            values.append(_checked(item, value, raw, limits))
    if len(values) > limits.max_matrix_rows:
        raise RequestError(f"The {name} axis has {len(values)} values; this server allows {limits.max_matrix_rows} rows.")
    return Axis(name, tuple(values))


def _checked(item: SchemaField, value: object, raw: str, limits: Limits) -> object:
    """One value as the schema takes it: text to a number for numeric fields, then the field's own check."""
    if item.kind in ("integer", "number", "optional number") and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise RequestError(f"'{raw}' is not a number; the {item.name} axis takes numbers such as {_example(item.name)}.") from None
    try:
        return check_value(item, value, limits)
    except RequestError as error:
        raise RequestError(f"The {item.name} axis value '{raw}' is refused: {error}") from None


def _example(name: str) -> str:
    return {"seed": "1, 2, 3 or 1-4", "steps": "10-30 (+10)", "processor_res": "256, 512, 768",
            "threshold_a": "50, 100, 200", "threshold_b": "50, 100, 200", "cfg_scale": "4, 7, 10", "sampler": "Euler a, DPM++ 2M Karras",
            "control_mode": "Balanced, ControlNet is more important", "resize_mode": "Just Resize, Crop and Resize",
            PROMPT_SR: "cat, dog, fox"}.get(name, "0.4, 0.7, 1 or 0.2-1.0 (+0.2)")
