"""A unit's map preview: always the map of the preprocessor chosen now, or in its place the sentence saying why not."""

from __future__ import annotations

import time
from collections.abc import Callable

import gradio as gr

from preprocessors import POSE_DETECTORS, families, get_spec
from preprocessors.pose_edit import PoseCanvas
from studio import Studio
from ui.concurrency import MAP_PREVIEW
from ui.errors import explain
from ui.map_editor import MapEdit, palette, shown
from ui.pose_editor import canvas_value
from ui.scratch import Scratch
from ui.widgets import UnitControls, map_condition, slider_updates


class LatestOnly:
    """One per visitor and unit: a preview that ends after a newer one began is dropped (two run at once, and a slow
    map of the previous choice must not land after the new one)."""

    def __init__(self) -> None:
        self.latest = 0

    def take(self) -> int:
        ticket = time.monotonic_ns()
        self.latest = ticket  # one assignment: atomic under the GIL
        return ticket

    def current(self, ticket: int) -> bool:
        return self.latest == ticket


def preprocessor_visibility(own_map: bool) -> tuple[dict, ...]:
    """"Use my own map" skips the preprocessor, so its choice, sliders and pixel perfect go away. Reads nothing but
    the box: Send to Generate sets it together with a new variant, and a handler sent the old variant mid-way."""
    shown = gr.update(visible=not own_map)
    return shown, shown, shown, shown


def pose_shown(module: str, own_map: bool, condition: str) -> bool:
    """The pose editor is for maps of people: an OpenPose preprocessor's, or an own map meant for OpenPose."""
    return condition == "openpose" if own_map else get_spec(module).detector in POSE_DETECTORS


def wire_unit(studio: Studio, unit: UnitControls, latest: gr.State, files: Scratch) -> Callable:
    """Family picks the variant list and variant sets the sliders, on the user's *input* only (Send to Generate sets
    family, variant and thresholds in one response, and resetting the sliders on its change events undid it); the map
    runs after them, so it reads the new variant with its own slider ranges (a preview sent with the previous
    variant's threshold failed gradio's range check: the "Error" badge over a stale map). A dropdown pick fires its
    input twice and previews overlap, so a newer preview's ticket drops an older one's map when it lands later.
    The map lands in the unit's editor; when the artist has edited it, new preprocessor settings ask before replacing
    the edit (a new upload or Send to Generate replaces it: the artist started over).
    `latest`: a gr.State(LatestOnly) made inside the tab (a component made here would land in the Tabs row as a tab);
    `files`: where each map is saved for its download link. Returns `refresh(event)`, which redraws the map once `event` has finished."""

    def pick_family(family: str):
        first = families()[family][0]
        return gr.update(choices=families()[family], value=first), *slider_updates(first)

    def made(data: dict) -> tuple:
        """(map, people, sentence): the map of the settings now, the people on it for OpenPose, or why there is none."""
        if data[unit.image] is None:
            return None, None, ""
        try:
            chosen = unit.read(data)  # the settings (the editor is not among a preview's inputs)
            picture = studio.control_map(data[unit.image], chosen.module, chosen.processor_res, chosen.threshold_a,
                                         chosen.threshold_b)
            people = studio.poses(data[unit.image], chosen.module, chosen.processor_res)
            return picture, people, ""
        except Exception as error:  # the sentence takes the map's place: no stale map under the new name
            name = "Your own map" if data[unit.own_map] else data[unit.module]
            return None, None, f"**{name}**: {explain(error)[1]}"

    def condition_of(data: dict) -> str:
        return map_condition(data[unit.condition], "none" if data[unit.own_map] else data[unit.module]) or ""

    def load(data: dict, picture, people, note: str) -> dict:
        """The map into the editor as the unedited one, its people into the pose editor, and a line naming the map."""
        edit: MapEdit = data[unit.edited_from]
        edit.load(picture, data[unit.module] if not data[unit.own_map] else "none")
        if picture is not None:
            path = files.save_png(picture, f"{edit.module}-map")
            name = "Your own map" if edit.module == "none" else f"The {edit.module} map"
            note = (f"{name}, {picture.width}x{picture.height}: paint on it to fix it; Generate uses what you see. "
                    f"[Download the detected map](/gradio_api/file={path})")
        edit.note = note
        return {unit.editor: gr.update(value=shown(picture), brush=palette(condition_of(data), picture)),
                unit.preview_note: note, unit.ask: gr.update(visible=False),
                unit.pose.canvas: canvas_value(PoseCanvas.from_json(people)) if people else None,
                unit.pose.box: pose_box(data)}

    def pose_box(data: dict) -> dict:
        return gr.update(visible=pose_shown(data[unit.module], data[unit.own_map], data[unit.condition]))

    def preview(data: dict, ask: bool = False) -> dict:
        ticket = data[latest].take()
        picture, people, note = made(data)
        if not data[latest].current(ticket):
            return dict.fromkeys(outputs, gr.skip())
        edit: MapEdit = data[unit.edited_from]
        if ask and edit.touched:  # keep the edit until the artist answers
            edit.pending = (picture, people, note) if picture is not None else None
            return {**dict.fromkeys(outputs, gr.skip()), unit.ask: gr.update(visible=picture is not None),
                    unit.preview_note: note or gr.skip(),
                    unit.pose.box: pose_box(data)}
        return load(data, picture, people, note)

    def use_new(data: dict) -> dict:
        """The map of the settings now: the one waiting since the artist kept an edit, else the last one detected.
        Both "Use the new map" and "Reset to detected" (the reset must match the sliders Generate reads)."""
        edit: MapEdit = data[unit.edited_from]
        if edit.pending:
            return load(data, *edit.pending)
        edit.touched = False
        return {**dict.fromkeys(outputs, gr.skip()), unit.editor: shown(edit.detected), unit.ask: gr.update(visible=False)}

    def keep_edit(edit: MapEdit):
        return gr.update(visible=False)  # the waiting map stays for "Reset to detected"

    outputs = [unit.editor, unit.preview_note, unit.ask, unit.pose.canvas, unit.pose.box]
    inputs = unit.inputs() - {unit.editor} | {latest}  # the map's pixels stay in the browser: a stroke says it was edited
    options = dict(fn=preview, inputs=inputs, outputs=outputs, concurrency_id=MAP_PREVIEW, concurrency_limit=2,
                   api_visibility="private", show_progress="minimal", show_progress_on=[unit.editor])
    asking = {**options, "fn": lambda data: preview(data, ask=True)}

    def settled(data: dict, event: gr.EventData) -> dict:
        """A new upload replaces the map; a new setting asks first when the artist has edited it."""
        return preview(data, ask=event.target is not unit.image)

    def refresh(event):
        return event.then(**options)

    private = dict(queue=False, api_visibility="private")
    unit.family.input(pick_family, unit.family, [unit.module, unit.threshold_a, unit.threshold_b], **private).then(**asking)
    unit.module.input(slider_updates, unit.module, [unit.threshold_a, unit.threshold_b], **private).then(**asking)
    # One listener, so the browser runs these previews one after another and re-runs the last with the values then
    # (two listeners ran at once, and a slider set during the upload's preview could lose to it on the server).
    gr.on([unit.image.change, unit.own_map.input, unit.threshold_a.input, unit.threshold_b.input,
           unit.processor_res.input, unit.condition.input], trigger_mode="always_last", **{**options, "fn": settled})
    unit.own_map.change(preprocessor_visibility, unit.own_map,
                        [unit.family, unit.module, unit.preprocessor_row, unit.pixel_perfect], **private)
    unit.use_new.click(use_new, inputs, outputs, **private)
    unit.keep_edit.click(keep_edit, unit.edited_from, unit.ask, **private)
    unit.reset.click(use_new, inputs, outputs, **private)
    unit.editor.change(lambda edit, value: edit.mark(value), [unit.edited_from, unit.editor], unit.preview_note, **private)
    return refresh
