"""A unit's pose editor: the people as skeletons with draggable points (ui/pose_editor.js), the edits an artist makes
to a person, and pose JSON in and out; every change draws the OpenPose map into the unit's map editor."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from preprocessors.pose_edit import MAX_JSON_CHARS, PoseCanvas
from ui.errors import user_errors
from ui.map_editor import MapEdit, shown
from ui.scratch import Scratch

SCRIPT = Path(__file__).with_name("pose_editor.js").read_text()
TEMPLATE = '<div class="pose-editor-box"><svg class="pose-svg" xmlns="http://www.w3.org/2000/svg"></svg><p class="pose-hint"></p></div>'
STYLE = """
.pose-svg { width: 100%; height: 360px; touch-action: none; background: #3a3a3a; display: block; }
.pose-point { cursor: grab; }
.pose-selected .pose-point { stroke: #fff; stroke-width: 1.5px; }
.pose-hint { font-size: 0.85em; margin: 4px 0 0; }
"""


@dataclass
class PoseControls:
    box: gr.Accordion
    canvas: gr.HTML
    add: gr.Button
    delete: gr.Button
    mirror: gr.Button
    smaller: gr.Button
    larger: gr.Button
    upload: gr.UploadButton
    download: gr.DownloadButton


def pose_controls(elem_id: str) -> PoseControls:
    """Draw the pose editor (hidden until the unit's map is a pose); call inside the unit's accordion."""
    with gr.Accordion("Pose editor (drag the points; the map follows)", open=True, visible=False) as box:
        canvas = gr.HTML(None, html_template=TEMPLATE, css_template=STYLE, js_on_load=SCRIPT, elem_id=elem_id)
        with gr.Row():
            add = gr.Button("Add person", size="sm", elem_id=f"{elem_id}-add")
            delete = gr.Button("Delete person", size="sm", elem_id=f"{elem_id}-delete")
            mirror = gr.Button("Mirror person", size="sm", elem_id=f"{elem_id}-mirror")
            smaller = gr.Button("Smaller", size="sm", elem_id=f"{elem_id}-smaller")
            larger = gr.Button("Larger", size="sm", elem_id=f"{elem_id}-larger")
        with gr.Row():
            upload = gr.UploadButton("Import pose JSON", file_types=[".json"], size="sm", elem_id=f"{elem_id}-import")
            download = gr.DownloadButton("Export pose JSON", size="sm", elem_id=f"{elem_id}-export", interactive=False)
    return PoseControls(box=box, canvas=canvas, add=add, delete=delete, mirror=mirror, smaller=smaller, larger=larger,
                        upload=upload, download=download)


def canvas_value(pose: PoseCanvas | None, selected: int = 0) -> dict | None:
    """What the browser half draws: the pose's JSON and which person is selected."""
    if pose is None:
        return None
    return {**pose.to_json(), "selected": min(max(selected, 0), max(len(pose.people) - 1, 0))}


def read_pose(value: dict | None) -> tuple[PoseCanvas | None, int]:
    if not value:
        return None, 0
    selected = value.get("selected", 0)
    return PoseCanvas.from_json(value), selected if isinstance(selected, int) else 0


def wire_pose(controls: PoseControls, editor: gr.ImageEditor, edit: gr.State, note: gr.Markdown, width: gr.Slider,
              height: gr.Slider, scratch: Scratch) -> None:
    """Every edit redraws the map into the editor (strokes painted on it kept), says so, and refreshes the export file."""

    def answer(pose: PoseCanvas, selected: int, editing: dict | None, state: MapEdit) -> tuple:
        state.touched = True  # the editor's change event does not fire for a map the server sends
        path = scratch.path("pose.json")
        path.write_text(json.dumps(pose.to_json()))
        people = f"{len(pose.people)} {'person' if len(pose.people) == 1 else 'people'}"
        said = f"Your pose ({people}, {pose.width}x{pose.height}) drawn as an OpenPose map; Generate uses what you see."
        state.note = said
        return (canvas_value(pose, selected), shown(pose.render(), (editing or {}).get("layers")),
                gr.update(value=str(path), interactive=True), said)

    def changed(change):
        def handler(value, editing, state, out_width, out_height):
            with user_errors():
                pose, selected = read_pose(value)
                pose, selected = change(pose or PoseCanvas(int(out_width), int(out_height)), selected)
                return answer(pose, selected, editing, state)
        return handler

    def imported(file, editing, state):
        with user_errors():
            path = Path(file if isinstance(file, str) else file.name)
            if path.stat().st_size > MAX_JSON_CHARS:
                raise gr.Error("This file is too big to be a pose JSON.")
            pose = PoseCanvas.from_json(path.read_text(errors="replace"))
            return answer(pose, 0, editing, state)

    outputs = [controls.canvas, editor, controls.download, note]
    private = dict(api_visibility="private", concurrency_limit=4)
    sizes = [controls.canvas, editor, edit, width, height]
    controls.add.click(changed(lambda pose, _: (pose.with_person(), len(pose.people))), sizes, outputs, **private)
    controls.delete.click(changed(lambda pose, chosen: (pose.without(chosen), chosen - 1)), sizes, outputs, **private)
    controls.mirror.click(changed(lambda pose, chosen: (pose.mirrored(chosen), chosen)), sizes, outputs, **private)
    controls.smaller.click(changed(lambda pose, chosen: (pose.scaled(chosen, 0.9), chosen)), sizes, outputs, **private)
    controls.larger.click(changed(lambda pose, chosen: (pose.scaled(chosen, 1.1), chosen)), sizes, outputs, **private)
    controls.canvas.posed(changed(lambda pose, chosen: (pose, chosen)), sizes, outputs, **private)
    controls.upload.upload(imported, [controls.upload, editor, edit], outputs, **private)
