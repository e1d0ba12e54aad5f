"""A unit's map preview: always the map of the preprocessor chosen now, or in its place the sentence saying why not."""

from __future__ import annotations

import time
from collections.abc import Callable

import gradio as gr

from preprocessors import families
from studio import Studio
from ui.concurrency import MAP_PREVIEW
from ui.errors import explain
from ui.widgets import UnitControls, slider_updates


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


def wire_unit(studio: Studio, unit: UnitControls, latest: gr.State) -> Callable:
    """Family picks the variant list and variant sets the sliders, on the user's *input* only (Send to Generate sets
    family, variant and thresholds in one response, and resetting the sliders on its change events undid it); the map
    preview runs after them, so it reads the new variant with its own slider ranges (a preview sent with the previous
    variant's threshold failed gradio's range check: the "Error" badge over a stale map). A dropdown pick fires its
    input twice and previews overlap, so a newer preview's ticket drops an older one's map when it lands later.
    `latest`: a gr.State(LatestOnly) made inside the tab (a component made here would land in the Tabs row as a tab).
    Returns `refresh(event)`, which redraws the preview once `event` has finished."""

    def pick_family(family: str):
        first = families()[family][0]
        return gr.update(choices=families()[family], value=first), *slider_updates(first)

    def map_or_sentence(data: dict) -> dict:
        if data[unit.image] is None:
            return {unit.preview: None, unit.preview_note: gr.update(value="", visible=False)}
        try:
            chosen = unit.read(data)
            picture = studio.control_map(data[unit.image], chosen.module, chosen.processor_res, chosen.threshold_a,
                                         chosen.threshold_b)
            return {unit.preview: picture, unit.preview_note: gr.update(value="", visible=False)}
        except Exception as error:  # the sentence takes the map's place: no stale map under the new name
            name = "Your own map" if data[unit.own_map] else data[unit.module]
            return {unit.preview: None, unit.preview_note: gr.update(value=f"**{name}**: {explain(error)[1]}", visible=True)}

    def preview(data: dict) -> dict:
        ticket = data[latest].take()
        answer = map_or_sentence(data)
        return answer if data[latest].current(ticket) else {unit.preview: gr.skip(), unit.preview_note: gr.skip()}

    options = dict(fn=preview, inputs=unit.inputs() | {latest}, outputs={unit.preview, unit.preview_note}, concurrency_id=MAP_PREVIEW,
                   concurrency_limit=2, api_visibility="private", show_progress="minimal")

    def refresh(event):
        return event.then(**options)

    private = dict(queue=False, api_visibility="private")
    refresh(unit.family.input(pick_family, unit.family, [unit.module, unit.threshold_a, unit.threshold_b], **private))
    refresh(unit.module.input(slider_updates, unit.module, [unit.threshold_a, unit.threshold_b], **private))
    gr.on([unit.image.change, unit.own_map.input, unit.threshold_a.input, unit.threshold_b.input, unit.processor_res.input],
          trigger_mode="always_last", **options)
    unit.own_map.change(preprocessor_visibility, unit.own_map,
                        [unit.family, unit.module, unit.preprocessor_row, unit.pixel_perfect], **private)
    return refresh
