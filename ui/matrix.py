"""The XY matrix as the studio runs it: columns of conditions (a combination is `canny + depth_midas`) crossed with
one setting's values, every cell a whole request the engine can batch, laid out row-major with the maps on top."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from diffusers.utils import make_image_grid
from PIL import Image

from pipelines.axes import PROMPT_SR, UNIT_AXES, Axis
from pipelines.requests import AUTO, ControlUnit, GenerationRequest, GenerationResult, RequestError
from preprocessors import PreprocessorError, get_spec
from ui.grid import failure_tile, labelled_grid

MAP_AXES = ("processor_res", "threshold_a", "threshold_b")  # change the map itself: computed once per (column, value)
NO_AXIS = Axis("none", (None,))
PENDING = "running…"


@dataclass
class Matrix:
    """A finished matrix: one map per column, cells row-major (row r, column c is cells[r * len(columns) + c])."""

    columns: list[str]
    axis: Axis
    maps: list[Image.Image]
    cells: list[GenerationResult | None]  # None: the column could not run; `failures` says why
    failures: dict[int, str]
    size: tuple[int, int]

    @property
    def batch(self) -> int:
        return next(len(cell.images) for cell in self.cells if cell is not None)

    def row_labels(self) -> list[str]:
        return [axis_label(self.axis, value) for value in self.axis.values]


def axis_label(axis: Axis, value: object) -> str:
    if axis.name == "none":
        return ""
    if axis.name == PROMPT_SR:
        return f"“{value}”"
    return f"{axis.name} = {value:g}" if isinstance(value, float) else f"{axis.name} = {value}"


def parse_columns(columns: list[str], max_units: int) -> list[list[str]]:
    """Each column's module names ("canny + depth_midas" is one multi-ControlNet column), every name checked first."""
    if not isinstance(columns, (list, tuple)) or not columns:
        raise RequestError("Tick at least one condition to compare.")
    parsed = []
    for column in columns:
        names = [name.strip() for name in str(column).split("+") if name.strip()]
        if not names or len(names) > max_units:
            raise RequestError(f"Column {column!r} combines {len(names)} conditions; use 1 to {max_units}.")
        for name in names:
            get_spec(name)  # an unknown name is refused before any work
        parsed.append(names)
    return parsed


def cell_request(request: GenerationRequest, axis: Axis, value: object, units: tuple[ControlUnit, ...]) -> GenerationRequest:
    """The request of one cell: the column's units, the row's value put where its setting lives."""
    if axis.name == PROMPT_SR:
        request = replace(request, prompt=request.prompt.replace(str(axis.values[0]), str(value)))
    elif axis.name in UNIT_AXES and axis.name not in MAP_AXES:
        units = tuple(replace(unit, **{axis.name: value}) for unit in units)
    elif axis.name not in ("none", *UNIT_AXES):
        request = replace(request, **{axis.name: value})
    return replace(request, units=units)


def check_prompt_sr(request: GenerationRequest, axis: Axis) -> None:
    if axis.name == PROMPT_SR and str(axis.values[0]) not in request.prompt:
        raise RequestError(f"Prompt S/R looks for {axis.values[0]!r}, which the prompt does not contain; put the first "
                           "value in the prompt, or change it.")


def build_matrix(request: GenerationRequest, template: ControlUnit, columns: list[list[str]], axis: Axis,
                 build_unit: Callable[[ControlUnit, int], ControlUnit | None]) -> tuple[list[GenerationRequest | None], dict[int, str]]:
    """Every cell's request, row-major, and the sentence of each column whose preprocessor cannot run (its cells are
    None: the rest of the matrix still runs). Maps are made once per column, or once per value when the axis changes
    the map. `build_unit(unit, index)` preprocesses one unit (the studio's)."""
    built: dict[tuple[int, object], tuple[ControlUnit, ...]] = {}
    failures: dict[int, str] = {}
    cells: list[GenerationRequest | None] = []
    for value in axis.values:
        for number, names in enumerate(columns):
            key = (number, value if axis.name in MAP_AXES else None)
            if number not in failures and key not in built:
                try:
                    built[key] = _column_units(template, names, axis, value, build_unit)
                except PreprocessorError as error:  # e.g. its weights are not on this server: say so in its cells
                    failures[number] = str(error)
            cells.append(None if number in failures else cell_request(request, axis, value, built[key]))
    return [None if index % len(columns) in failures else cell for index, cell in enumerate(cells)], failures


def _column_units(template: ControlUnit, names: list[str], axis: Axis, value: object,
                  build_unit: Callable[[ControlUnit, int], ControlUnit | None]) -> tuple[ControlUnit, ...]:
    unit_template = replace(template, **{axis.name: value}) if axis.name in MAP_AXES else template
    units = []
    for index, name in enumerate(names):
        unit = build_unit(replace(unit_template, module=name, condition=AUTO, family=""), index)
        if unit is None:
            raise RequestError("Upload a control image to compare conditions on.")
        units.append(unit)
    return tuple(units)


def column_maps(first_row: list[GenerationResult | None], size: tuple[int, int], failures: dict[int, str]) -> list[Image.Image]:
    """Each column's map as the engine fitted it to the output (a combination's maps side by side), from the first row;
    a failed column's tile carries its sentence (a column still running, PENDING)."""
    return [failure_tile(size, failures.get(number, PENDING)) if cell is None else _side_by_side(cell.maps)
            for number, cell in enumerate(first_row)]


@dataclass
class CellDone:
    """A streamed event: cell `index` (row-major) has finished."""

    index: int
    result: GenerationResult


def partial_matrix(columns: list[str], axis: Axis, size: tuple[int, int], done: dict[int, GenerationResult]) -> Matrix:
    """The matrix so far, while it runs: finished cells in place, the others (and maps not yet made) as PENDING tiles."""
    cells = [done.get(index) for index in range(len(columns) * len(axis.values))]
    return Matrix(columns=columns, axis=axis, cells=cells, failures={}, size=size,
                  maps=column_maps(cells[:len(columns)], size, {}))


def _side_by_side(images: list[Image.Image]) -> Image.Image:
    """A combination column's maps in one picture (make_image_grid needs one size: the first map's)."""
    if len(images) == 1:
        return images[0]
    size = images[0].size
    return make_image_grid([image.convert("RGB").resize(size) for image in images], rows=1, cols=len(images))


def matrix_items(matrix: Matrix) -> list[tuple[Image.Image, str]]:
    """Row-major with one column per condition: the maps' row first, then each row's cells (every image of a batch);
    a failed column's cells are tiles with its sentence, captioned with it."""
    items = [(picture, f"{column} · map") for column, picture in zip(matrix.columns, matrix.maps)]
    width = len(matrix.columns)
    for row, label in enumerate(matrix.row_labels()):
        cells = matrix.cells[row * width:(row + 1) * width]
        for image_index in range(matrix.batch):
            for number, (column, cell) in enumerate(zip(matrix.columns, cells)):
                if cell is None:
                    why = matrix.failures.get(number, PENDING)
                    items.append((failure_tile(matrix.size, why), f"{column} · {why}"))
                else:
                    items.append((cell.images[image_index],
                                  " · ".join(filter(None, (column, label, f"seed {cell.seeds[image_index]}")))))
    return items


def matrix_grid(matrix: Matrix) -> Image.Image:
    """The labelled grid PNG: maps on top, a caption per column and per row; its metadata is the first cell's infotext."""
    width = len(matrix.columns)
    columns = []
    for number, column in enumerate(matrix.columns):
        images = [image for cell in matrix.cells[number::width]
                  for image in (cell.images if cell else [failure_tile(matrix.size, matrix.failures[number])] * matrix.batch)]
        columns.append((column, [matrix.maps[number], *images]))
    first = next(cell for cell in matrix.cells if cell is not None)
    rows = ["map"] + [label or f"seed {first.seeds[i]}" for label in matrix.row_labels() for i in range(matrix.batch)]
    return labelled_grid(columns, row_labels=rows if len(rows) > 2 or matrix.axis.name != "none" else None,
                         parameters=first.infotexts[0])
