"""The Compare tab's columns: a table with one row per column and its own settings (blank = the registry's default),
buttons that add a condition, a combination, a whole family or a ready map, and each column's readiness before a run."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from pipelines.architectures import CONDITIONS
from pipelines.requests import RequestError
from preprocessors import MAP_FAMILIES, families
from studio import Studio
from studio.columns import parse_columns
from studio.readiness import column_readiness
from ui.errors import user_errors
from ui.widgets import UNIT

HEADERS = ["Condition(s)", "Processor res", "Threshold A", "Threshold B", "Pixel perfect", "ControlNet"]
# the table's columns after the first: the ControlUnit setting each one sets (its kind, from the schema, says how a
# cell is read)
_SETTINGS = ("processor_res", "threshold_a", "threshold_b", "pixel_perfect", "model")
_OWN_MAP = re.compile(r"^own map (\d+) \((\w+)\)$")


def default_conditions() -> list[str]:
    """The default variant of each of the six map families (the first one the registry lists)."""
    return [names[0] for family, names in families().items() if family in MAP_FAMILIES]


def all_conditions() -> list[str]:
    """Every preprocessor a column can run on the control image (a ready map is added as its own column instead)."""
    return [name for names in families().values() for name in names if name != "none"]


def blank_row(condition: str) -> list:
    return [condition, "", "", "", False, ""]


def with_map_column(rows: list, maps: list, picture, condition: str) -> tuple[list, list]:
    """A ready map as one more column (an upload here, or a Generate unit's map, edited or not)."""
    maps = [*(maps or []), picture]
    return [*(rows or []), blank_row(f"own map {len(maps)} ({condition})")], maps


@dataclass
class ColumnsEditor:
    table: gr.Dataframe
    own_maps: gr.State
    readiness: gr.Markdown
    show: Callable[[list, list], str]  # the readiness table for the table's rows and the uploaded maps

    def show_readiness_on(self, event_listener) -> None:
        """Refresh the readiness lines on another event too (the tab opened: the model may have loaded since)."""
        event_listener(self.show, [self.table, self.own_maps], self.readiness, queue=False, api_visibility="private")

    @property
    def inputs(self) -> set:
        return {self.table, self.own_maps}

    def read(self, data: dict) -> list[dict | list[dict]]:
        """The table as the studio's column specs (the API's shape): one dict per unit, a list for a combination."""
        return table_columns(data[self.table], data[self.own_maps])


def table_columns(rows: list[list], own_maps: list) -> list[dict | list[dict]]:
    columns = []
    for number, row in enumerate(rows or []):
        cells = [*row, *[""] * (len(HEADERS) - len(row))]
        text = str(cells[0] or "").strip()
        if not text:
            continue
        settings = {}
        for name, value in zip(_SETTINGS, cells[1:]):
            settings |= _cell_value(name, value, number)
        own = _OWN_MAP.match(text)
        if own:
            index = int(own.group(1)) - 1
            if not 0 <= index < len(own_maps or []):
                raise RequestError(f"Column {number + 1} names {text!r}, which is not uploaded in this session; add the map again.")
            units = [{"module": "none", "condition": own.group(2), "image": own_maps[index], **settings}]
        else:
            units = [{"module": name.strip(), **settings} for name in text.split("+") if name.strip()]
        columns.append(units[0] if len(units) == 1 else units)
    return columns


def _cell_value(name: str, value: object, number: int) -> dict:
    """A table cell as a setting, or nothing when blank (the registry's default)."""
    kind = UNIT[name].kind
    if kind == "flag":
        return {name: True} if value in (True, "true", "True") else {}
    text = str(value if value is not None else "").strip()
    if not text or text.lower() == "nan":
        return {}
    if kind.endswith("text"):
        return {name: text}
    try:
        number_value = float(text)
    except ValueError:
        raise RequestError(f"Column {number + 1}: {name.replace('_', ' ')} {text!r} is not a number; "
                           "type one, or leave it blank for the default.") from None
    return {name: int(number_value) if kind == "integer" and number_value.is_integer() else number_value}


def build_columns_editor(studio: Studio) -> ColumnsEditor:
    """The table and its buttons; call inside the Compare tab's column."""
    table = gr.Dataframe(value=[blank_row(name) for name in default_conditions()], headers=HEADERS,
                         datatype=["str", *("bool" if UNIT[name].kind == "flag" else "str" for name in _SETTINGS)],
                         type="array", interactive=True,
                         label="Columns (one per row; blank settings use each preprocessor's defaults; a + b = both at once)",
                         row_count=(1, "dynamic"), column_count=(len(HEADERS), "fixed"), elem_id="compare-columns")
    readiness = gr.Markdown(elem_id="compare-readiness")
    own_maps = gr.State([])
    with gr.Row():
        chosen = gr.Dropdown(all_conditions(), multiselect=True, max_choices=studio.limits.max_units,
                             label="Condition(s) for a new column (2 or 3 = a combination)", elem_id="compare-add")
        add = gr.Button("Add column", elem_id="compare-add-button", size="sm")
    with gr.Row():
        family = gr.Dropdown([name for name in families() if name != "Other"], value=None, label="A whole family",
                             elem_id="compare-family")
        add_family = gr.Button("Add every variant", elem_id="compare-add-family", size="sm")
        clear = gr.Button("Clear columns", elem_id="compare-clear", size="sm")
    with gr.Accordion("A ready map as a column", open=False):
        with gr.Row():
            own_map = gr.Image(label="Ready map", type="pil", height=160, elem_id="compare-own-map")
            own_condition = gr.Dropdown(list(CONDITIONS), value="depth", label="It is a map for", elem_id="compare-own-condition")
            add_map = gr.Button("Add map column", elem_id="compare-add-map", size="sm")

    def add_rows(rows, names):
        """A column for the picked condition(s), and the picker emptied for the next one."""
        return ([*(rows or []), blank_row(" + ".join(names))] if names else rows), []

    def add_whole_family(rows, name):
        return [*(rows or []), *(blank_row(variant) for variant in families().get(name, []))]

    def add_own_map(rows, maps, picture, condition):
        if picture is None:
            raise gr.Error("Upload a ready map first, then add it.")
        return with_map_column(rows, maps, picture, condition)

    def show_readiness(rows, maps):
        with user_errors():
            try:
                columns = parse_columns(table_columns(rows, maps), studio.limits)
            except RequestError as error:
                return f"**Cannot run:** {error}"
            lines = [f"| {number + 1} | {column.label} | {state} |"
                     for number, (column, state) in enumerate(zip(columns, column_readiness(studio, columns)))]
            return "| # | Column | Before the run |\n|---|---|---|\n" + "\n".join(lines)

    private = {"queue": False, "api_visibility": "private"}
    add.click(add_rows, [table, chosen], [table, chosen], **private)
    add_family.click(add_whole_family, [table, family], table, **private)
    clear.click(lambda: [], None, table, **private)
    add_map.click(add_own_map, [table, own_maps, own_map, own_condition], [table, own_maps], **private)
    table.change(show_readiness, [table, own_maps], readiness, **private)
    return ColumnsEditor(table, own_maps, readiness, show_readiness)
