"""Compare tab, the condition matrix: one image, several conditions, same prompt and seed, side by side."""

from __future__ import annotations

import gradio as gr

from pipelines.axes import AXES, parse_axis
from pipelines.engine import CancelToken
from pipelines.requests import ControlUnit
from preprocessors import families
from ui.concurrency import GPU
from ui.errors import user_errors
from ui.generate_tab import EXAMPLES, GENERATE_EXAMPLES
from ui.jobs import Done, stream_job
from ui.matrix import CellDone, matrix_grid, matrix_items, parse_columns, partial_matrix
from ui.studio import Studio
from ui.widgets import UNIT, keep_copy_box, prompt_row, sampler_controls, schema_choices, schema_slider, wire_stop


def default_conditions() -> list[str]:
    """The default variant of each of the six families (the first one the registry lists)."""
    return [names[0] for family, names in families().items() if family != "Other"]


def all_conditions() -> list[str]:
    return [name for family, names in families().items() if family != "Other" for name in names]


def build_compare_tab(studio: Studio, limits) -> gr.Tab:
    with gr.Tab("Compare", id="compare") as tab:
        gr.Markdown("Run one control image through several conditions with the **same prompt, seed and settings**, "
                    "and see each map above its result.")
        prompt, negative, run, stop = prompt_row("cmp", "Run comparison", "compare-button", "compare-stop")
        with gr.Row():
            with gr.Column(scale=1):
                image = gr.Image(label="Control image", type="filepath", height=280, elem_id="compare-image")
                gr.Examples([[text, str(EXAMPLES / name)] for text, name, _, _ in GENERATE_EXAMPLES], inputs=[prompt, image],
                            label="Examples")
                conditions = gr.CheckboxGroup(all_conditions(), value=default_conditions(), label="Conditions (columns)",
                                              elem_id="compare-conditions")
                with gr.Row():
                    y_axis = gr.Dropdown(list(AXES), value="none", label="Rows: vary a setting", elem_id="compare-y-axis")
                    y_values = gr.Textbox(label="Values (A1111 syntax: 0.4, 0.7, 1 · 0.2-1.0 (+0.2) · 1-10 [4])",
                                          max_lines=1, elem_id="compare-y-values")
                settings = sampler_controls(prompt, negative, limits, "cmp")
                keep_copy = keep_copy_box(studio, "cmp-keep")
                with gr.Row():
                    weight = schema_slider(UNIT["weight"], limits, 0.05, "Control weight")
                    control_mode = schema_choices(UNIT["control_mode"], "Control mode", radio=True)
                    resize_mode = schema_choices(UNIT["resize_mode"], "Resize mode", radio=True)
            with gr.Column(scale=2):
                status = gr.Markdown(elem_id="compare-status")
                matrix = gr.Gallery(label="Map above result, per condition", format="png", columns=6, height=560,
                                    elem_id="compare-gallery")
                grid = gr.Image(label="Labelled grid (download)", format="png", interactive=False, elem_id="compare-grid")
        cancel_state = gr.State(None)

    def start(data: dict, progress=gr.Progress()):
        token = CancelToken()
        yield {cancel_state: token}
        with user_errors():
            request = settings.read(data)
            template = ControlUnit(image=data[image], weight=data[weight], control_mode=data[control_mode],
                                   resize_mode=data[resize_mode])
            chosen = list(data[conditions] or [])
            axis = parse_axis(data[y_axis], data[y_values] or "", studio.limits)
            keep = bool(data[keep_copy])
            labels = [" + ".join(names) for names in parse_columns(chosen, studio.limits.max_units)]
            total, done = len(labels) * len(axis.values), {}

            def work(on_step, cancel):  # finished cells travel the same queue as the step updates
                return studio.compare(request, template, chosen, axis, on_step, cancel, keep,
                                      on_cell=lambda index, result: on_step(CellDone(index, result)))

            for item in stream_job(work, token):
                if isinstance(item, Done):
                    finished = item.value
                    yield {matrix: gr.update(value=matrix_items(finished), columns=len(finished.columns)),
                           grid: matrix_grid(finished), status: _summary(finished)}
                elif isinstance(item, CellDone):
                    done[item.index] = item.result
                    partial = partial_matrix(labels, axis, (request.width, request.height), done)
                    yield {matrix: gr.update(value=matrix_items(partial), columns=len(labels)),
                           status: f"Cell {len(done)} of {total} done…"}
                else:
                    progress((item.step, item.total), desc=f"Matrix: {len(done)} of {total} cells done")

    inputs = settings.inputs() | {image, conditions, weight, control_mode, resize_mode, keep_copy, y_axis, y_values}
    event = run.click(start, inputs=inputs, outputs={matrix, grid, status, cancel_state}, concurrency_id=GPU,
                      concurrency_limit=1, api_visibility="private")
    wire_stop(stop, cancel_state, event)
    return tab


def _summary(done) -> str:
    """What ran, and which columns could not (their cells say why)."""
    seed = next(cell for cell in done.cells if cell is not None).seeds[0]
    failed = f" {len(done.failures)} column(s) could not run; their cells say why." if done.failures else ""
    return f"Done: {len(done.columns)} columns x {len(done.axis.values)} rows, seed {seed}.{failed}"
