"""sd-webui-controlnet's own routes: the model and module lists (read from the ControlNet table and the preprocessor
registry) and /controlnet/detect."""

from __future__ import annotations

from a1111_api.errors import refuse
from a1111_api.payload import check_unused, decode_image, encode_png
from pipelines.architectures import SD15, Architecture
from pipelines.controlnets import short_name
from pipelines.requests import AUTO, ControlUnit
from preprocessors.registry import POSE_DETECTORS, SPECS, get_spec
from studio import Studio

API_VERSION = 2  # what the extension's /controlnet/version answers since its v1.1 API
DETECT_FIELDS = {"controlnet_module", "controlnet_input_images", "controlnet_images", "controlnet_processor_res",
                 "controlnet_threshold_a", "controlnet_threshold_b"}
DETECT_NO_OPS = {"controlnet_masks": (None, []), "low_vram": None}
MAX_DETECT_IMAGES = 8


def controlnet_models(overrides: dict[str, str], architecture: Architecture = SD15) -> dict[str, tuple[str, str]]:
    """Each ControlNet this server lists for its model's architecture, by the name A1111 shows (the file or repo
    name) -> (id, condition). A model serving several conditions (SDXL's union) takes the unit's module's ("auto")."""
    used = {**architecture.controlnets, **overrides}  # an operator's --controlnet replaces that condition's default
    serves: dict[str, set[str]] = {}
    for condition, model in used.items():
        serves.setdefault(model, set()).add(condition)
    for model, condition in architecture.alternatives.items():
        serves.setdefault(model, {condition})
    return {short_name(model): (model, conditions.pop() if len(conditions) == 1 else AUTO)
            for model, conditions in serves.items()}


def module_detail() -> dict[str, dict]:
    """Per module: whether it needs no ControlNet, and its sliders (resolution, then its thresholds) as the extension
    lists them."""
    resolution = ControlUnit.__dataclass_fields__["processor_res"].default
    detail = {}
    for spec in SPECS:
        sliders = [] if spec.name == "none" else [{"name": "Preprocessor Resolution", "value": resolution, "min": 64,
                                                   "max": 2048, "step": 8}]
        for param in (spec.threshold_a, spec.threshold_b):
            if param is not None:
                sliders.append({"name": param.label, "value": param.default, "min": param.minimum, "max": param.maximum,
                                "step": param.step})
        detail[spec.name] = {"model_free": False, "sliders": sliders}
    return detail


def detect(studio: Studio, payload: dict) -> dict:
    """Each input image through one preprocessor: `{"info": "Success", "images": [...]}` with raw base64 PNG maps."""
    check_unused(payload, DETECT_FIELDS, no_ops=DETECT_NO_OPS)
    images = payload.get("controlnet_input_images") or payload.get("controlnet_images") or []
    if not isinstance(images, list) or not images:
        raise refuse("controlnet_input_images", "Send the images to detect as controlnet_input_images (a list of base64).")
    if len(images) > MAX_DETECT_IMAGES:
        raise refuse("controlnet_input_images", f"At most {MAX_DETECT_IMAGES} images per call; send the rest in another.")
    module = payload.get("controlnet_module", "none")
    resolution = payload.get("controlnet_processor_res")
    resolution = ControlUnit.__dataclass_fields__["processor_res"].default if resolution in (None, -1) else resolution
    thresholds = [payload.get(f"controlnet_threshold_{name}") for name in "ab"]
    thresholds = [None if value in (None, -1) else value for value in thresholds]
    decoded = [decode_image(image, f"controlnet_input_images[{index}]") for index, image in enumerate(images)]
    maps = [studio.control_map(image, module, resolution, *thresholds) for image in decoded]
    answer = {"images": [encode_png(image) for image in maps], "info": "Success"}
    if get_spec(module).detector in POSE_DETECTORS:  # the extension adds the people it found, as OpenPose JSON
        answer["poses"] = [studio.poses(image, module, resolution) for image in decoded]
    return answer
