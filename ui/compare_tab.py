"""Compare tab, the XY matrix: one control image through several conditions (columns, each with its own settings)
and optionally one setting's values (rows), same prompt and seed; cells stream in, each one reproducible."""

from __future__ import annotations

import gradio as gr

from pipelines.axes import AXES, parse_axis
from pipelines.engine import CancelToken
from pipelines.requests import ControlUnit
from pipelines.streaming import CellDone, Done, stream_job
from studio import Studio
from studio.columns import parse_columns
from studio.matrix import matrix_grid, matrix_items, partial_matrix
from ui.columns_editor import ColumnsEditor, build_columns_editor, with_map_column
from ui.concurrency import GPU
from ui.errors import sentence, user_errors
from ui.generate_tab import EXAMPLES, GENERATE_EXAMPLES, GenerateTab
from ui.img2img_panel import img2img_panel, picture_file, with_panels
from ui.matrix_export import export_matrix
from ui.restore import restore, restore_targets
from ui.scratch import Scratch
from ui.widgets import (
    UNIT,
    SettingsControls,
    UnitControls,
    keep_copy_box,
    map_condition,
    prompt_row,
    sampler_controls,
    schema_choices,
    schema_slider,
    wire_stop,
)


def build_compare_tab(studio: Studio, limits, generate: GenerateTab, tabs: gr.Tabs) -> tuple[gr.State, SettingsControls]:
    """The tab; returns the state that holds each finished matrix's results (History lists them) and its settings."""
    scratch = Scratch("studio-matrix-")
    with gr.Tab("Compare", id="compare") as tab:
        gr.Markdown("Run one control image through several conditions with the **same prompt, seed and settings**: "
                    "maps on top, one column per condition, and optionally one row per value of a setting.")
        prompt, negative, run, stop = prompt_row("cmp", "Run comparison", "compare-button", "compare-stop")
        with gr.Row():
            with gr.Column(scale=1):
                image = gr.Image(label="Control image", type="filepath", height=240, elem_id="compare-image")
                gr.Examples([[text, str(EXAMPLES / name)] for text, name, *_ in GENERATE_EXAMPLES], inputs=[prompt, image],
                            label="Examples")
                editor = build_columns_editor(studio)
                with gr.Row():
                    y_axis = gr.Dropdown(list(AXES), value="none", label="Rows: vary a setting", elem_id="compare-y-axis")
                    y_values = gr.Textbox(label="Values (A1111 syntax: 0.4, 0.7, 1 · 0.2-1.0 (+0.2) · 1-10 [4])",
                                          max_lines=1, elem_id="compare-y-values")
                settings = sampler_controls(prompt, negative, limits, "cmp")
                panel = img2img_panel(limits, "cmp-img2img", "the control image")
                settings = with_panels(settings, panel)
                keep_copy = keep_copy_box(studio, "cmp-keep")
                with gr.Row():
                    weight = schema_slider(UNIT["weight"], limits, 0.05, "Control weight")
                    control_mode = schema_choices(UNIT["control_mode"], "Control mode", radio=True)
                    resize_mode = schema_choices(UNIT["resize_mode"], "Resize mode", radio=True)
            with gr.Column(scale=2):
                status = gr.Markdown(elem_id="compare-status")
                matrix = gr.Gallery(label="Maps on top; click a cell for its settings", format="png", columns=6,
                                    object_fit="contain", allow_preview=False,
                                    elem_id="compare-gallery")
                with gr.Row():
                    with gr.Column():
                        picked = gr.Textbox(label="The cell you clicked: its infotext", lines=4, interactive=False,
                                            elem_id="compare-infotext")
                        send = gr.Button("Send to Generate", elem_id="compare-send", size="sm")
                    slider = gr.ImageSlider(label="The last two cells you clicked", type="pil", interactive=False,
                                            elem_id="compare-slider")
                downloads = gr.File(label="Downloads: the labelled grid and a ZIP of every cell (PNG with its infotext)",
                                    file_count="multiple", interactive=False, elem_id="compare-downloads")
                grid = gr.Image(label="Labelled grid", format="png", interactive=False, elem_id="compare-grid")
        cancel_state = gr.State(None)
        items_state = gr.State([])  # the gallery's items: (image, caption, infotext)
        finished = gr.State(None)  # every result of the last matrix, for History

    def start(data: dict, progress=gr.Progress()):
        token = CancelToken()
        yield {cancel_state: token, picked: "", slider: None, downloads: None, grid: None}  # nothing of the last run stays
        with user_errors():
            request = settings.read(data)
            # no control image: the columns read the img2img picture, as A1111's units without an image do
            control = data[image] if data[image] is not None else request.init_image
            template = ControlUnit(image=control, weight=data[weight], control_mode=data[control_mode],
                                   resize_mode=data[resize_mode])
            columns = editor.read(data)
            axis = parse_axis(data[y_axis], data[y_values] or "", studio.limits)
            keep = bool(data[keep_copy])
            labels = [column.label for column in parse_columns(columns, studio.limits)]
            total, done = len(labels) * len(axis.values), {}

            def work(on_step, cancel):  # finished cells travel the same queue as the step updates
                return studio.compare(request, template, columns, axis, on_step, cancel, keep,
                                      on_cell=lambda index, result: on_step(CellDone(index, result)))

            for item in stream_job(work, token):
                if isinstance(item, Done):
                    whole = item.value
                    items = matrix_items(whole)
                    yield {matrix: gr.update(value=[entry[:2] for entry in items], columns=len(whole.columns)),
                           items_state: items, grid: matrix_grid(whole), status: _summary(whole),
                           downloads: [str(path) for path in export_matrix(whole, scratch)],
                           finished: [cell for cell in whole.cells if cell is not None]}
                elif isinstance(item, CellDone):
                    done[item.index] = item.result
                    items = matrix_items(partial_matrix(labels, axis, (request.width, request.height), done))
                    yield {matrix: gr.update(value=[entry[:2] for entry in items], columns=len(labels)),
                           items_state: items, status: f"Cell {len(done)} of {total} done…"}
                else:
                    progress((item.step, item.total), desc=f"Matrix: {len(done)} of {total} cells done")

    def pick(items: list, shown, event: gr.SelectData):
        """A clicked cell: its infotext, and the slider set to the cell clicked before it and this one."""
        chosen = items[event.index]
        before = shown[1] if shown else chosen.image
        return chosen.infotext or f"{chosen.caption} (a map: it has no generation settings)", (before, chosen.image)

    def send_back(text: str):
        if not text or "Steps: " not in text:
            raise sentence("Click a result cell (not a map) first, then send it.")
        with user_errors():
            return {**restore(generate, studio, text), tabs: gr.Tabs(selected="generate")}

    private = {"queue": False, "api_visibility": "private"}
    inputs = settings.inputs() | editor.inputs | {image, weight, control_mode, resize_mode, keep_copy, y_axis, y_values}
    event = run.click(start, inputs=inputs, outputs={matrix, grid, status, cancel_state, items_state, downloads, finished, picked, slider},
                      concurrency_id=GPU, concurrency_limit=studio.backend.jobs_at_once, api_visibility="private")
    wire_stop(stop, cancel_state, event)
    stop.click(lambda: "Stopped. The finished cells stay above; the others did not run.", None, status, **private)
    matrix.select(pick, [items_state, slider], [picked, slider], **private)
    panel.to_unit.click(lambda edited: picture_file(edited, scratch), panel.picture, image, **private)
    generate.refresh_previews(send.click(send_back, picked, restore_targets(generate) | {tabs}, **private))
    for unit in generate.units:
        wire_map_to_compare(unit, editor, tabs)
    editor.show_readiness_on(tab.select)
    return finished, settings


def _summary(done) -> str:
    """What ran, and which columns could not (their cells say why)."""
    seed = next(cell for cell in done.cells if cell is not None).seeds[0]
    failed = f" {len(done.failures)} column(s) could not run; their cells say why." if done.failures else ""
    return f"Done: {len(done.columns)} columns x {len(done.axis.values)} rows, seed {seed}.{failed}"


def wire_map_to_compare(unit: UnitControls, columns: ColumnsEditor, tabs: gr.Tabs) -> None:
    """A Generate unit's map as it is now (edited or not) becomes a Compare column, for the condition it was made for."""

    def send(data: dict) -> dict:
        edit = data[unit.edited_from]
        picture = edit.edit(data[unit.editor]) or edit.detected
        if picture is None:
            raise sentence("This unit has no map yet: upload a control image (or pose someone) first.")
        condition = map_condition(data[unit.condition], edit.module or data[unit.module])
        if condition is None:
            raise sentence("Choose which ControlNet this map is for (the unit's ControlNet box), then send it.")
        rows, maps = with_map_column(data[columns.table], data[columns.own_maps], picture, condition)
        return {columns.table: rows, columns.own_maps: maps, tabs: gr.Tabs(selected="compare")}

    unit.to_compare.click(send, {unit.edited_from, unit.editor, unit.condition, unit.module, columns.table, columns.own_maps},
                          [columns.table, columns.own_maps, tabs], queue=False, api_visibility="private")
