"""Generate tab: up to three ControlNet units, live map previews, streamed progress, results with metadata."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from pipelines.engine import CancelToken
from pipelines.requests import ControlUnit, RequestError
from pipelines.streaming import Done, stream_job
from studio import Studio
from studio.batches import check_batch_count, run_batches
from studio.controlnet_choices import controlnet_choices
from ui.concurrency import GPU
from ui.errors import sentence, user_errors
from ui.generate_results import Shown, done_line, stopped_line
from ui.hires_panel import hires_panel
from ui.img2img_panel import img2img_panel, picture_file, with_panels
from ui.pose_editor import wire_pose
from ui.scratch import Scratch
from ui.unit_preview import LatestOnly, wire_unit
from ui.widgets import (
    SettingsControls,
    UnitControls,
    keep_copy_box,
    prompt_row,
    sampler_controls,
    unit_controls,
    wire_stop,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
GENERATE_EXAMPLES = (  # (prompt, image, the image is already a map, ControlNet, what the example's button says)
    ("a cozy cottage by a tree on a hill, watercolor", "line_drawing.png", False, "auto", "Cottage: line drawing → Canny"),
    ("an astronaut standing in a studio, photo", "stick_figure_openpose.png", True, "openpose",
     "Astronaut: a ready pose map → OpenPose"),
    ("a glossy red ball on a marble floor, soft light", "shaded_scene.png", False, "auto", "Red ball: shaded scene → Canny"),
)


@dataclass
class GenerateTab:
    """What other tabs need from this one: its settings and units (to send settings back) and its results."""

    settings: SettingsControls
    units: list[UnitControls]
    gallery: gr.Gallery
    used_maps: gr.Gallery
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


def enabled_units(units: list[UnitControls], data: dict) -> list[tuple[int, ControlUnit]]:
    """(unit number, unit) for each enabled unit; an enabled unit without an image is a mistake to say, not skip."""
    chosen = [(index, unit.read(data)) for index, unit in enumerate(units) if data[unit.enabled]]
    for index, unit in chosen:
        if unit.image is None:
            raise RequestError(f"ControlNet unit {index} is enabled but has no control image; upload one, or untick its "
                               "Enable box to generate without it.")
    return chosen


def build_generate_tab(studio: Studio, limits) -> GenerateTab:
    """Layout first, wiring at the bottom."""
    with gr.Tab("Generate", id="generate") as tab:
        prompt, negative, run, stop = prompt_row("gen", "Generate", "generate-button", "generate-stop")
        with gr.Row(elem_id="gen-row"):
            with gr.Column(scale=1, elem_id="gen-settings-column"):
                settings = sampler_controls(prompt, negative, limits, "gen")
                batch_count = gr.Slider(1, limits.max_batch_count, value=1, step=1, label="Batch count (batches in a row)",
                                        elem_id="gen-batch-count")
                with gr.Row():
                    reuse_seed = gr.Button("Reuse last seed", size="sm")
                    random_seed = gr.Button("Random seed", size="sm")
                    match_aspect = gr.Button("Match the control image's aspect", size="sm")
                keep_copy = keep_copy_box(studio, "gen-keep")
                with gr.Column(elem_id="gen-units"):  # shown first (layout.CSS): at 1366x768 the upload was below the fold
                    choices = controlnet_choices(studio.model_roots, studio.controlnet_overrides)
                    units = [unit_controls(index, limits, controlnets=choices) for index in range(limits.max_units)]
                panel, hires = img2img_panel(limits), hires_panel(limits)
                settings = with_panels(settings, panel, hires)
                gr.Examples([[prompt_text, str(EXAMPLES / name), own_map, condition]
                             for prompt_text, name, own_map, condition, _ in GENERATE_EXAMPLES],
                            inputs=[prompt, units[0].image, units[0].own_map, units[0].condition],
                            example_labels=[label for *_, label in GENERATE_EXAMPLES], label="Examples (drawn by the project)")
            with gr.Column(scale=1, elem_id="gen-results-column"):
                gallery = gr.Gallery(label="Results", format="png", columns=2, height=520, elem_id="results-gallery",
                                     buttons=["download", "fullscreen"])
                status = gr.Markdown(elem_id="generate-status")
                used_maps = gr.Gallery(label="Maps used (one per enabled unit)", format="png", columns=3, height=200,
                                       elem_id="used-maps")
                infotext = gr.Textbox(label="Generation parameters of the selected image (infotext)", lines=5,
                                      interactive=False, elem_id="infotext")
                to_img2img = gr.Button("Send the selected image to img2img", size="sm", elem_id="gen-to-img2img")
        last_seed, cancel_state, finished, shown = gr.State(-1), gr.State(None), gr.State(None), gr.State(lambda: Shown())
        selected = gr.State(0)  # the result image the artist picked (its infotext is shown)
        tickets = [gr.State(LatestOnly) for _ in units]

    files = Scratch("studio-maps-")  # each map's download and each pose's export
    refreshers = [wire_unit(studio, unit, ticket, files) for unit, ticket in zip(units, tickets)]
    for unit in units:
        wire_pose(unit.pose, unit.editor, unit.edited_from, unit.preview_note, settings.width, settings.height, files)

    def start(data: dict, progress=gr.Progress()):
        token = CancelToken()
        yield {cancel_state: token, shown: Shown(), gallery: None, used_maps: None, infotext: "", status: "Starting…"}
        with user_errors():
            chosen = enabled_units(units, data)
            request = settings.read(data, units=tuple(unit for _, unit in chosen))
            count = check_batch_count(request, data[batch_count], studio.limits)
            keep = bool(data[keep_copy])

            def work(on_step, cancel):
                return run_batches(studio.generate, request, count, lambda batch, update: on_step((batch, update)), cancel, keep)

            step = ""  # the last step shown: Stop's sentence says where it stopped, whichever side reports it first
            for item in stream_job(work, token):
                if isinstance(item, Done):
                    batches = item.value
                    view = Shown.of(batches, [number for number, _ in chosen])
                    notes = [note for result in batches.results for note in result.notes]
                    line = stopped_line(step, view) if batches.interrupted else done_line(batches, count, notes)
                    yield {gallery: view.images, used_maps: view.maps, infotext: view.infotext(0), shown: view,
                           last_seed: batches.results[0].seeds[0] if batches.results else data[settings.seed],
                           status: line, finished: batches.results or None}
                    return
                batch, update = item
                step = f"Step {update.step}/{update.total}" if count == 1 else \
                    f"Batch {batch + 1} of {count}, step {update.step}/{update.total}"
                progress((batch * update.total + update.step, count * update.total), desc="Sampling")
                yield {gallery: update.previews, status: f"{step} (preview)"} if update.previews else {status: step}

    def stopped(line: str, view: Shown):
        line = line or ""  # the job's own stopped sentence may have arrived first: keep it
        return {status: line if line.startswith("Stopped") else stopped_line(line, view), gallery: view.images or None,
                used_maps: view.maps or None, infotext: view.infotext(0)}

    event = run.click(start, inputs=settings.inputs() | set().union(*(u.inputs() for u in units)) | {keep_copy, batch_count},
                      outputs={gallery, used_maps, infotext, last_seed, status, cancel_state, finished, shown},
                      concurrency_id=GPU, concurrency_limit=studio.backend.jobs_at_once, api_visibility="private")
    wire_stop(stop, cancel_state, event, view=(stopped, [status, shown], [status, gallery, used_maps, infotext]))
    def picked(view: Shown, event: gr.SelectData) -> tuple[str, int]:
        return view.infotext(event.index), event.index

    def to_picture(view: Shown, index: int):
        """The picked result as img2img's picture (A1111's "Send to img2img"; the settings stay as they are)."""
        if not view.images:
            raise sentence("Generate an image first, then pick the one to start from.")
        return view.images[index if 0 <= index < len(view.images) else 0][0]

    gallery.select(picked, [shown], [infotext, selected], queue=False, api_visibility="private")
    to_img2img.click(to_picture, [shown, selected], settings.picture, queue=False, api_visibility="private")
    reuse_seed.click(lambda seed: seed, last_seed, settings.seed, queue=False, api_visibility="private")
    random_seed.click(lambda: -1, None, settings.seed, queue=False, api_visibility="private")
    panel.to_unit.click(lambda edited: picture_file(edited, files), panel.picture, units[0].image, queue=False,
                        api_visibility="private")
    match_aspect.click(_match_aspect, [units[0].image, settings.width, settings.height], [settings.width, settings.height],
                       queue=False, api_visibility="private")
    return GenerateTab(settings=settings, units=units, gallery=gallery, used_maps=used_maps, infotext=infotext,
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
