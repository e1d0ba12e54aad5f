"""Generate tab: up to three ControlNet units, live map previews, streamed progress, results with metadata."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from pipelines.engine import CancelToken
from pipelines.streaming import Done, stream_job
from preprocessors import families
from studio import Studio
from ui.concurrency import GPU, PREPROCESS
from ui.errors import sentence, user_errors
from ui.widgets import (
    SettingsControls,
    UnitControls,
    keep_copy_box,
    prompt_row,
    sampler_controls,
    slider_updates,
    unit_controls,
    wire_stop,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
GENERATE_EXAMPLES = (
    ("a cozy cottage by a tree on a hill, watercolor", "line_drawing.png", False, "auto"),
    ("an astronaut standing in a studio, photo", "stick_figure_openpose.png", True, "openpose"),
    ("a glossy red ball on a marble floor, soft light", "shaded_scene.png", False, "auto"),
)


@dataclass
class GenerateTab:
    """What other tabs need from this one: its settings and units (to send settings back) and its results."""

    settings: SettingsControls
    units: list[UnitControls]
    gallery: gr.Gallery
    used_map: gr.Image
    infotext: gr.Textbox
    last_seed: gr.State
    finished: gr.State
    tab: gr.Tab
    status: gr.Markdown
    refreshers: list[Callable]  # each unit's `refresh(event)`: redraw its map preview after `event`

    def refresh_previews(self, event) -> None:
        """Redraw every unit's map preview once `event` (e.g. Send to Generate) has set the controls."""
        for refresh in self.refreshers:
            refresh(event)


def _wire_unit(studio: Studio, unit: UnitControls) -> Callable:
    """Family picks the variant list; variant sets the sliders; the map preview follows the upload and the user's edits.
    Every trigger is the user's *input* (not a change): Send to Generate sets family, variant and thresholds in one
    response, and change events fired half-way through it sent a mix of old values and new ranges (error toasts).
    Returns `refresh(event)`, which redraws the preview once `event` has finished."""
    def pick_family(family: str):
        first = families()[family][0]
        return gr.update(choices=families()[family], value=first), *slider_updates(first)

    def preview(data: dict):
        if data[unit.image] is None:
            return None
        with user_errors():
            chosen = unit.read(data)
            return studio.control_map(data[unit.image], chosen.module, chosen.processor_res, chosen.threshold_a, chosen.threshold_b)

    options = dict(fn=preview, inputs=unit.inputs(), outputs=unit.preview, concurrency_id=PREPROCESS, concurrency_limit=2,
                   api_visibility="private", show_progress="minimal")

    def refresh(event):
        return event.then(**options)

    refresh(unit.family.input(pick_family, unit.family, [unit.module, unit.threshold_a, unit.threshold_b], queue=False,
                              api_visibility="private"))
    refresh(unit.module.input(slider_updates, unit.module, [unit.threshold_a, unit.threshold_b], queue=False,
                              api_visibility="private"))
    gr.on([unit.image.change, unit.own_map.input, unit.threshold_a.input, unit.threshold_b.input, unit.processor_res.input],
          trigger_mode="always_last", **options)
    return refresh


def build_generate_tab(studio: Studio, limits) -> GenerateTab:
    """Layout first, wiring at the bottom."""
    with gr.Tab("Generate", id="generate") as tab:
        prompt, negative, run, stop = prompt_row("gen", "Generate", "generate-button", "generate-stop")
        with gr.Row():
            with gr.Column(scale=1):
                settings = sampler_controls(prompt, negative, limits, "gen")
                with gr.Row():
                    reuse_seed = gr.Button("Reuse last seed", size="sm")
                    random_seed = gr.Button("Random seed", size="sm")
                    match_aspect = gr.Button("Match the control image's aspect", size="sm")
                keep_copy = keep_copy_box(studio, "gen-keep")
                units = [unit_controls(index, limits) for index in range(limits.max_units)]
                gr.Examples(
                    [[prompt_text, str(EXAMPLES / name), own_map, condition] for prompt_text, name, own_map, condition in GENERATE_EXAMPLES],
                    inputs=[prompt, units[0].image, units[0].own_map, units[0].condition], label="Examples (drawn by the project)")
            with gr.Column(scale=1):
                gallery = gr.Gallery(label="Results", format="png", columns=2, height=520, elem_id="results-gallery",
                                     buttons=["download", "fullscreen"])
                status = gr.Markdown(elem_id="generate-status")
                used_map = gr.Image(label="Map used", format="png", interactive=False, height=260, elem_id="used-map")
                infotext = gr.Textbox(label="Generation parameters (infotext)", lines=5, interactive=False, elem_id="infotext")
        last_seed, cancel_state, finished = gr.State(-1), gr.State(None), gr.State(None)

    refreshers = [_wire_unit(studio, unit) for unit in units]

    def start(data: dict, progress=gr.Progress()):
        token = CancelToken()
        yield {cancel_state: token}
        with user_errors():
            chosen = tuple(u for u in (unit.read_enabled(data) for unit in units) if u is not None)
            request = settings.read(data, units=chosen)
            keep = bool(data[keep_copy])
            job = stream_job(lambda on_step, cancel: studio.generate(request, on_step, cancel, keep), token)
            for item in job:
                if isinstance(item, Done):
                    result = item.value
                    note = " ".join(result.notes)
                    yield {gallery: [(image, f"seed {seed}") for image, seed in zip(result.images, result.seeds)],
                           used_map: result.maps[0] if result.maps else None, infotext: result.infotexts[0],
                           last_seed: result.seeds[0], status: f"Done: {len(result.images)} image(s). {note}".strip(),
                           finished: result}
                else:
                    progress((item.step, item.total), desc="Sampling")
                    if item.previews:
                        yield {gallery: item.previews, status: f"Step {item.step}/{item.total} (preview)"}

    event = run.click(start, inputs=settings.inputs() | set().union(*(u.inputs() for u in units)) | {keep_copy},
                      outputs={gallery, used_map, infotext, last_seed, status, cancel_state, finished},
                      concurrency_id=GPU, concurrency_limit=studio.backend.jobs_at_once, api_visibility="private")
    wire_stop(stop, cancel_state, event)
    reuse_seed.click(lambda seed: seed, last_seed, settings.seed, queue=False, api_visibility="private")
    random_seed.click(lambda: -1, None, settings.seed, queue=False, api_visibility="private")
    match_aspect.click(_match_aspect, [units[0].image, settings.width, settings.height], [settings.width, settings.height],
                       queue=False, api_visibility="private")
    return GenerateTab(settings=settings, units=units, gallery=gallery, used_map=used_map, infotext=infotext,
                       last_seed=last_seed, finished=finished, tab=tab, status=status, refreshers=refreshers)


def _match_aspect(image_path, width: int, height: int):
    """Keep the longer side, set the other so the output has the control image's aspect (multiple of 8)."""
    if not image_path:
        raise sentence("Upload a control image in unit 0 first.")
    from PIL import Image

    with Image.open(image_path) as image:
        w, h = image.size
    longest = max(int(width), int(height))
    if w >= h:
        return longest, max(64, round(longest * h / w / 8) * 8)
    return max(64, round(longest * w / h / 8) * 8), longest

