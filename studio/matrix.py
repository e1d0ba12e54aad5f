"""The XY matrix as the studio runs it: columns of conditions (a combination is `canny + depth_midas`) crossed with
one setting's values, every cell a whole request the engine can batch, laid out row-major with the maps on top."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import NamedTuple

from diffusers.utils import make_image_grid
from PIL import Image

from pipelines.axes import PROMPT_SR, UNIT_AXES, Axis
from pipelines.loading import ModelLoadError
from pipelines.requests import ControlUnit, GenerationRequest, GenerationResult, RequestError
from preprocessors import PreprocessorError
from serving import Backend
from studio.columns import Column, column_unit
from studio.grid import failure_tile, labelled_grid

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


def build_matrix(request: GenerationRequest, template: ControlUnit, columns: list[Column], axis: Axis,
                 build_unit: Callable[[ControlUnit, int], ControlUnit | None]) -> tuple[list[GenerationRequest | None], dict[int, str]]:
    """Every cell's request, row-major, and the sentence of each column whose preprocessor cannot run (its cells are
    None: the rest of the matrix still runs). Maps are made once per column, or once per value when the axis changes
    the map. `build_unit(unit, index)` preprocesses one unit (the studio's)."""
    built: dict[tuple[int, object], tuple[ControlUnit, ...]] = {}
    failures: dict[int, str] = {}
    cells: list[GenerationRequest | None] = []
    for value in axis.values:
        for number, column in enumerate(columns):
            key = (number, value if axis.name in MAP_AXES else None)
            if number not in failures and key not in built:
                try:
                    built[key] = _column_units(template, column, axis, value, build_unit)
                except PreprocessorError as error:  # e.g. its weights are not on this server: say so in its cells
                    failures[number] = str(error)
            cells.append(None if number in failures else cell_request(request, axis, value, built[key]))
    return without_failed(cells, len(columns), failures), failures


def without_failed(cells: list, width: int, failures: dict[int, str]) -> list:
    """The row-major cells with every cell of a failed column set to None (its sentence fills them)."""
    return [None if index % width in failures else cell for index, cell in enumerate(cells)]


def _column_units(template: ControlUnit, column: Column, axis: Axis, value: object,
                  build_unit: Callable[[ControlUnit, int], ControlUnit | None]) -> tuple[ControlUnit, ...]:
    """The column's units preprocessed; a row axis that changes the map wins over the column's own value."""
    units = []
    for index, own in enumerate(column.units):
        unit = column_unit(template, own)
        if axis.name in MAP_AXES:
            unit = replace(unit, **{axis.name: value})
        built = build_unit(unit, index)
        if built is None:
            raise RequestError("Upload a control image to compare conditions on.")
        units.append(built)
    return tuple(units)


def controlnet_failures(backend: Backend, cells: list[GenerationRequest | None], width: int,
                        failures: dict[int, str]) -> dict[int, str]:
    """Each column's ControlNets loaded before the run (they load on first use anyway), so a column whose ControlNet is
    missing says so in its cells (naming the model and the fix) while the rest of the matrix runs."""
    found = {}
    for number, cell in enumerate(cells[:width]):
        for unit in cell.units if cell is not None and number not in failures else ():
            try:
                backend.load_controlnet(unit.condition, unit.model)
            except ModelLoadError as error:
                found[number] = str(error)
                break
    return found


def column_maps(first_row: list[GenerationResult | None], size: tuple[int, int], failures: dict[int, str]) -> list[Image.Image]:
    """Each column's map as the engine fitted it to the output (a combination's maps side by side), from the first row;
    a failed column's tile carries its sentence (a column still running, PENDING)."""
    return [failure_tile(size, failures.get(number, PENDING)) if cell is None else _side_by_side(cell.maps)
            for number, cell in enumerate(first_row)]


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


class Item(NamedTuple):
    """One gallery item of a matrix: the picture, its caption, and the infotext that regenerates it ("" for a map)."""

    image: Image.Image
    caption: str
    infotext: str = ""


def matrix_items(matrix: Matrix) -> list[Item]:
    """Row-major with one column per condition: the maps' row first, then each row's cells (every image of a batch);
    a failed column's cells are tiles with its sentence, captioned with it."""
    items = [Item(picture, f"{column} · map") for column, picture in zip(matrix.columns, matrix.maps)]
    width = len(matrix.columns)
    for row, label in enumerate(matrix.row_labels()):
        cells = matrix.cells[row * width:(row + 1) * width]
        for image_index in range(matrix.batch):
            for number, (column, cell) in enumerate(zip(matrix.columns, cells)):
                if cell is None:
                    why = matrix.failures.get(number, PENDING)
                    items.append(Item(failure_tile(matrix.size, why), f"{column} · {why}"))
                else:
                    items.append(Item(cell.images[image_index],
                                      " · ".join(filter(None, (column, label, f"seed {cell.seeds[image_index]}"))),
                                      cell.infotexts[image_index]))
    return items


def matrix_grid(matrix: Matrix) -> Image.Image:
    """The labelled grid PNG: maps on top, a caption per column and per row; its metadata lists the axes."""
    width = len(matrix.columns)
    columns = []
    for number, column in enumerate(matrix.columns):
        images = [image for cell in matrix.cells[number::width]
                  for image in (cell.images if cell else [failure_tile(matrix.size, matrix.failures[number])] * matrix.batch)]
        columns.append((column, [matrix.maps[number], *images]))
    first = next(cell for cell in matrix.cells if cell is not None)
    rows = ["map"] + [label or f"seed {first.seeds[i]}" for label in matrix.row_labels() for i in range(matrix.batch)]
    return labelled_grid(columns, row_labels=rows if len(rows) > 2 or matrix.axis.name != "none" else None,
                         parameters=grid_parameters(matrix, first.infotexts[0]))


def grid_parameters(matrix: Matrix, first_infotext: str) -> str:
    """The first cell's infotext (so the grid regenerates that cell, as A1111's XYZ grids do) with the axes appended
    as quoted A1111 fields: `XY columns: "canny | depth_midas", XY rows: "weight: 0.4, 0.7, 1"`."""
    def quoted(text: str) -> str:
        return '"' + text.replace('"', "'") + '"'

    fields = [f"XY columns: {quoted(' | '.join(matrix.columns))}"]
    if matrix.axis.name != "none":
        values = ", ".join(f"{value:g}" if isinstance(value, float) else str(value) for value in matrix.axis.values)
        fields.append(f"XY rows: {quoted(f'{matrix.axis.name}: {values}')}")
    return f"{first_infotext}, {', '.join(fields)}"
