"""Send to Generate: every setting an infotext records, put back into the Generate tab's controls, field by field
from the schema, with a sentence for each one this server cannot take."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from pipelines.infotext import request_from_infotext
from pipelines.requests import AUTO, ControlUnit
from pipelines.schema import RequestError, check_value
from preprocessors import PreprocessorError, families, get_spec
from studio import Studio
from ui.generate_tab import GenerateTab
from ui.widgets import REQUEST_FIELDS, UNIT_FIELDS, UnitControls, slider_updates

# Unit fields whose control needs more than its value (the family's variant list, the sliders' ranges, "auto", blank).
_DERIVED = {"module", "family", "condition", "model", "threshold_a", "threshold_b", "edited_from"}


def restore_targets(generate: GenerateTab) -> set:
    """Every control Send to Generate may set: one per schema field, plus each unit's switches, plus the status line."""
    s = generate.settings
    targets = {getattr(s, item.name) for item in REQUEST_FIELDS} | {generate.status}
    for unit in generate.units:
        targets |= {unit.enabled, unit.own_map, *(getattr(unit, item.name) for item in UNIT_FIELDS)}
    return targets


def restore(generate: GenerateTab, studio: Studio, infotext: str) -> dict:
    """The Generate tab's updates for an infotext; what could not be restored is said in the tab's status line."""
    request = request_from_infotext(infotext)
    notes: list[str] = []
    updates = {}
    for item in REQUEST_FIELDS:
        value = _checked(item, getattr(request, item.name), studio, "", notes)
        if value is not _SKIP:
            updates[getattr(generate.settings, item.name)] = value
    for index, controls in enumerate(generate.units):
        unit = request.units[index] if index < len(request.units) else None
        updates[controls.enabled] = unit is not None
        if unit is not None:
            updates.update(_unit_updates(controls, unit, studio, f"ControlNet unit {index} ", notes))
    if len(request.units) > len(generate.units):
        notes.append(f"The image used {len(request.units)} ControlNet units; this server has {len(generate.units)}, "
                     "so the rest were left out.")
    said = " Not restored: " + " ".join(notes) if notes else ""
    updates[generate.status] = f"Settings restored from the image (its control images are not stored in it; the uploads stay).{said}"
    return updates


class _Skip:
    """Marks a value that was not restored."""


_SKIP = _Skip()


def _checked(item, value, studio: Studio, where: str, notes: list[str]):
    """The value if this server accepts it (the same check a job gets), else a note and _SKIP."""
    try:
        return check_value(item, value, studio.limits, where)
    except RequestError as error:
        notes.append(str(error))
        return _SKIP


def _unit_updates(controls: UnitControls, unit: ControlUnit, studio: Studio, where: str, notes: list[str]) -> dict:
    updates = {}
    for item in UNIT_FIELDS:
        if item.name not in _DERIVED:
            value = _checked(item, getattr(unit, item.name), studio, where, notes)
            if value is not _SKIP:
                updates[getattr(controls, item.name)] = value
    module = unit.edited_from or unit.module  # a map edited by hand: its preprocessor, to detect and edit again
    try:
        spec = get_spec(module)
    except PreprocessorError:
        notes.append(f"{where}preprocessor {module!r} does not exist here; the unit keeps its current one.")
        return updates
    if unit.edited_from:
        notes.append(f"{where}map was a {unit.edited_from} map edited by hand; upload the image and edit its map again.")
    updates[controls.own_map] = module == "none"
    updates[controls.family] = spec.family
    updates[controls.module] = gr.update(choices=families()[spec.family], value=module)
    sliders = zip((controls.threshold_a, controls.threshold_b), slider_updates(module), (spec.threshold_a, spec.threshold_b),
                  (unit.threshold_a, unit.threshold_b))
    for slider, shown, param, value in sliders:  # the variant's range and label, with the recorded value
        updates[slider] = {**shown, "value": value} if param is not None and value is not None else shown
    updates[controls.condition] = AUTO if unit.condition == spec.condition and module != "none" else unit.condition
    updates[controls.model] = _model_text(unit, studio, where, notes)
    return updates


def _model_text(unit: ControlUnit, studio: Studio, where: str, notes: list[str]) -> str:
    """Blank when the image used this server's own ControlNet for the condition, else the id if this server allows it."""
    default = studio.controlnet_overrides.get(unit.condition, studio.architecture().controlnets.get(unit.condition))
    if not unit.model or unit.model == default:
        return ""
    try:
        checked = studio.checked_model(unit.model) or ""
    except RequestError as error:
        notes.append(f"{where}ControlNet: {error} This server's default is used instead.")
        return ""
    if Path(checked).is_absolute() and not Path(checked).exists():
        notes.append(f"{where}ControlNet {unit.model} is not on this server; its default is used instead.")
        return ""
    return checked
