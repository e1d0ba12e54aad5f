"""sd-webui-controlnet's unit arguments (`alwayson_scripts.controlnet.args`) -> the studio's ControlUnits, in every form
the extension accepts: images raw, as `data:` URLs, `{"image", "mask"}` or a pair; legacy names; modes as text or the
older integers; -1 for a preprocessor's own defaults; model names with or without A1111's `[hash]`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from a1111_api.errors import refuse
from a1111_api.payload import ANY, check_unused, decode_image, empty
from pipelines.controlnets import CONTROLNET_MODELS, short_name
from pipelines.requests import AUTO, CONTROL_MODES, RESIZE_MODES, ControlUnit
from pipelines.schema import schema_fields

# the unit settings A1111 names, read from the schema: {A1111 key: ControlUnit field}
UNIT_KEYS = {item.setting.a1111: item.name for item in schema_fields(ControlUnit) if item.setting.a1111}
LEGACY_RESIZE = {"Scale to Fit (Inner Fit)": "Crop and Resize", "Envelope (Outer Fit)": "Resize and Fill"}
ALIASES = {"input_image": "image", "lowvram": "low_vram"}
_HASH = re.compile(r"\s*\[[0-9a-fA-F]{8,}\]$")
# extension fields with no effect here at these values (no batch folders, no per-unit masks, no IP-Adapter)
UNIT_NO_OPS = {
    "low_vram": ANY, "is_ui": ANY, "input_mode": ("simple", "", None), "batch_images": ("", None, []),
    "mask": (None, ""), "mask_image": (None, ""), "effective_region_mask": (None, ""), "advanced_weighting": (None,),
    "use_preview_as_input": (False, None), "generated_image": (None, ""), "union_control_type": ("Unknown", "", None),
    "ipadapter_input": (None,), "animatediff_batch": (False, None), "batch_modifiers": ([], None),
    "batch_image_dir": ("", None), "batch_mask_dir": ("", None), "batch_input_gallery": (None, []),
    "batch_mask_gallery": (None, []), "loopback": (False, None), "output_dir": ("", None),
    "inpaint_crop_input_image": ANY, "guessmode": (False, None),
}
HANDLED = {*UNIT_KEYS, "image", "enabled", "save_detected_map", "guessmode"}


@dataclass(frozen=True)
class ApiUnit:
    """One enabled unit, ready for the studio, and whether its detected map goes back in the response."""

    unit: ControlUnit
    send_map: bool


def controlnet_args(scripts: object) -> list:
    """The ControlNet script's unit list (its key matched case-insensitively); other always-on scripts only when off."""
    if scripts in (None, {}):
        return []
    if not isinstance(scripts, dict):
        raise refuse("alwayson_scripts", "alwayson_scripts must be an object of {script name: {\"args\": [...]}}.")
    units: list = []
    for name, script in scripts.items():
        args = script.get("args", []) if isinstance(script, dict) else script
        if str(name).lower() == "controlnet":
            if not isinstance(args, list):
                raise refuse(f"alwayson_scripts.{name}.args", "The ControlNet args must be a list of units.")
            units = args
        elif not (args in ([], None) or (isinstance(args, list) and args[:1] == [False])):
            raise refuse(f"alwayson_scripts.{name}", f"The always-on script {name!r} is not available on this server; "
                                                     "only ControlNet is. Leave it out or disable it.")
    return units


def parse_units(args: list, models: dict[str, tuple[str, str]], picture=None) -> list[ApiUnit]:
    """Every enabled unit, checked field by field; `models`: each ControlNet name this server lists -> (id, condition).
    In img2img a unit sent without an image takes the `picture` (sd-webui-controlnet does the same)."""
    parsed = []
    for index, raw in enumerate(args):
        where = f"controlnet unit {index}"
        if not isinstance(raw, dict):
            raise refuse(where, f"{where} must be an object of the extension's unit fields.")
        raw = {ALIASES.get(key, key): value for key, value in raw.items()}
        if raw.get("enabled", True) is False:
            continue
        check_unused(raw, HANDLED, f"{where} ", UNIT_NO_OPS)
        image = _image(raw.get("image"), where)
        image = picture if image is None else image
        if image is None:
            raise refuse(f"{where} image", f"{where} is enabled but has no image; send one, or set \"enabled\": false.")
        values = {UNIT_KEYS[key]: raw[key] for key in UNIT_KEYS if key in raw}
        values.update(_modes(raw, where))
        for name in ("threshold_a", "threshold_b"):
            if values.get(name) == -1:  # the extension's "this preprocessor's default"
                values[name] = None
        if values.get("processor_res") == -1:
            values.pop("processor_res")
        values["model"], condition = _model(raw.get("model"), models, where)
        parsed.append(ApiUnit(ControlUnit(image=image, condition=condition, **values), raw.get("save_detected_map", True)
                              is not False))
    return parsed


def _image(value: object, where: str):
    """Raw base64, a data: URL, {"image", "mask"} or [image, mask]; a unit's own mask is refused (img2img's is used)."""
    mask = None
    if isinstance(value, dict):
        value, mask = value.get("image"), value.get("mask")
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        value, mask = value
    if not empty(mask):
        raise refuse(f"{where} mask", f"{where} has a mask of its own, which this server does not take; send the image "
                                      "alone, and the mask as /sdapi/v1/img2img's mask (inpaint_only marks it for the unit).")
    return decode_image(value, f"{where} image")


def _modes(raw: dict, where: str) -> dict[str, str]:
    """control_mode and resize_mode as the extension's text, or the older integers 0, 1, 2; guessmode as before."""
    modes = {}
    if raw.get("guessmode") is True:
        modes["control_mode"] = "ControlNet is more important"
    for key, names in (("control_mode", CONTROL_MODES), ("resize_mode", RESIZE_MODES)):
        value = raw.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value < len(names):
                raise refuse(f"{where} {key}", f"{where} {key} must be 0-{len(names) - 1} or one of {', '.join(names)}.")
            modes[key] = names[value]
        elif isinstance(value, str):
            modes[key] = LEGACY_RESIZE.get(value, value)
    return modes


def _model(value: object, models: dict[str, tuple[str, str]], where: str) -> tuple[str | None, str]:
    """("None" or no model: the module's own condition and its default ControlNet) or the named model and the condition
    its name says; a name is read without A1111's `[hash]`."""
    if value in (None, "", "None", "none"):
        return None, AUTO
    if not isinstance(value, str):
        raise refuse(f"{where} model", f"{where} model must be a name from /controlnet/model_list.")
    name = _HASH.sub("", value).strip()
    if name in models:
        return models[name]
    # not one this server lists: the studio decides (a file in an allowed folder, or a refusal that says why)
    condition = next((c for c in sorted(CONTROLNET_MODELS, key=len, reverse=True) if c in short_name(name)), AUTO)
    return name, condition
