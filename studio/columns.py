"""A matrix column as a person or a script writes it: a module name, `canny + depth_midas`, or each unit's own settings
(thresholds, processor resolution, pixel perfect, ControlNet, a ready map of its own), checked by the schema first."""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass, field, replace

from PIL import Image, UnidentifiedImageError

from pipelines.controlnets import short_name
from pipelines.limits import Limits
from pipelines.requests import AUTO, ControlUnit, RequestError
from pipelines.schema import check_value, schema_fields
from preprocessors import get_spec

# What a column may set for its own units; everything else (weight, guidance, modes) the whole matrix shares, or the
# row axis varies. `image` is a column's own upload (a ready map with module `none` and its condition).
COLUMN_KEYS = ("module", "processor_res", "threshold_a", "threshold_b", "pixel_perfect", "model", "condition",
               "weight", "guidance_start", "guidance_end", "control_mode", "resize_mode")
_FIELDS = {item.name: item for item in schema_fields(ControlUnit)}
_SHORT = {"processor_res": "res", "threshold_a": "a", "threshold_b": "b", "guidance_start": "start", "guidance_end": "end"}
MAX_IMAGE_TEXT = 30_000_000  # characters of base64 in one column (about 22 MB of PNG)


@dataclass(frozen=True)
class ColumnUnit:
    """One unit of a column: its module and the settings it sets itself (the rest come from the shared unit)."""

    module: str
    settings: dict[str, object] = field(default_factory=dict)
    image: Image.Image | None = None  # its own upload; None = the matrix's control image


@dataclass(frozen=True)
class Column:
    units: tuple[ColumnUnit, ...]

    @property
    def label(self) -> str:
        return " + ".join(_unit_label(unit) for unit in self.units)


def _unit_label(unit: ColumnUnit) -> str:
    """The module and its non-default settings, as a column caption (a ready map names its condition)."""
    name = f"own map ({unit.settings.get('condition', AUTO)})" if unit.image is not None and unit.module == "none" else unit.module
    parts = []
    for key, value in unit.settings.items():
        if key in ("module", "condition") or value is None:
            continue
        if key == "pixel_perfect":
            parts.append("pixel perfect" if value else "")
        elif key == "model":
            parts.append(f"model {short_name(str(value))}")
        else:
            parts.append(f"{_SHORT.get(key, key)} {value:g}" if isinstance(value, float) else f"{_SHORT.get(key, key)} {value}")
    shown = ", ".join(part for part in parts if part)
    return f"{name} ({shown})" if shown else name


def parse_columns(columns: object, limits: Limits) -> list[Column]:
    """Every column checked (names, combination size, each setting's type and range) before any work is done."""
    if not isinstance(columns, (list, tuple)) or not columns:
        raise RequestError("Add at least one column (a condition) to compare.")
    return [_column(column, number, limits) for number, column in enumerate(columns)]


def _column(column: object, number: int, limits: Limits) -> Column:
    where = f"Column {number + 1}"
    if isinstance(column, str):
        parts: list[object] = [name.strip() for name in column.split("+") if name.strip()]
    elif isinstance(column, dict):
        parts = [column]
    elif isinstance(column, (list, tuple)):
        parts = list(column)
    else:
        raise RequestError(f"{where} must be a module name, a settings object or a list of them; got {type(column).__name__}.")
    if not parts or len(parts) > limits.max_units:
        raise RequestError(f"{where} ({column!r:.80}) combines {len(parts)} conditions; use 1 to {limits.max_units}.")
    return Column(tuple(_unit(part, f"{where} ", limits) for part in parts))


def _unit(part: object, where: str, limits: Limits) -> ColumnUnit:
    if isinstance(part, str):
        part = {"module": part.strip()}
    if not isinstance(part, dict):
        raise RequestError(f"{where}must list module names or settings objects; got {type(part).__name__}.")
    unknown = sorted(set(part) - {*COLUMN_KEYS, "image"})
    if unknown:
        raise RequestError(f"{where}has no setting {', '.join(map(repr, unknown))}; a column may set {', '.join(COLUMN_KEYS)} "
                           "and image.")
    image = _image(part.get("image"), where)
    settings = {key: check_value(_FIELDS[key], value, limits, where) for key, value in part.items() if key in COLUMN_KEYS}
    module = settings.setdefault("module", "none" if image is not None else "")
    if not module:
        raise RequestError(f"{where}names no module; give one (e.g. \"canny\"), or an image with module \"none\".")
    get_spec(module)  # an unknown name is refused before any work
    if module == "none" and settings.get("condition", AUTO) == AUTO:
        raise RequestError(f"{where}is a ready map (module none); say which condition it is for with \"condition\".")
    if module == "none" and image is None:
        raise RequestError(f"{where}has module none but no image of its own; add \"image\" (a base64 PNG) or a module.")
    return ColumnUnit(module=module, settings=settings, image=image)


def _image(value: object, where: str) -> Image.Image | None:
    """A column's own image: a PIL image (from the UI) or base64 / a data: URL (from the API). Never a server path."""
    if value is None or isinstance(value, Image.Image):
        return value
    if not isinstance(value, str):
        raise RequestError(f"{where}image must be a base64 PNG or JPEG (a data: URL is fine).")
    if len(value) > MAX_IMAGE_TEXT:
        raise RequestError(f"{where}image is {len(value):,} characters of base64; keep it under {MAX_IMAGE_TEXT:,}.")
    try:
        data = base64.b64decode(value.split(",", 1)[1] if value.startswith("data:") else value, validate=True)
        return Image.open(io.BytesIO(data))  # reads the header only; the pixel limit is checked when the unit is built
    except (binascii.Error, ValueError, UnidentifiedImageError, OSError):
        raise RequestError(f"{where}image is not base64 of an image we can read; send a PNG or JPEG.") from None


def column_unit(template: ControlUnit, unit: ColumnUnit) -> ControlUnit:
    """The unit a column cell runs: the shared settings, the column's own on top, its own image if it has one."""
    image = unit.image if unit.image is not None else template.image
    return replace(template, image=image, **{"condition": AUTO, "family": "", **unit.settings})
