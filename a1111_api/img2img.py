"""POST /sdapi/v1/img2img: txt2img's payload plus A1111's picture, mask and inpaint fields. Their keys and choices are
the schema's (the fields used only when starting from a picture); A1111's numeric codes (inpainting_fill 0-3,
inpainting_mask_invert 0/1, inpaint_full_res false/true, resize_mode 0-2) are read as those choices."""

from __future__ import annotations

import json
from collections.abc import Callable

from a1111_api.errors import refuse
from a1111_api.payload import ANY, decode_image
from a1111_api.txt2img import PICTURE_WHENS, Txt2Img, parse_txt2img
from pipelines.limits import Limits
from pipelines.requests import GenerationRequest
from pipelines.schema import SchemaField, schema_fields

PICTURE_FIELDS = {item.setting.a1111: item for item in schema_fields(GenerationRequest)
                  if item.setting.a1111 and item.setting.when in (*PICTURE_WHENS, "denoises")}
HANDLED = {*PICTURE_FIELDS, "init_images", "mask"}
# A1111 img2img fields with no effect here at these values
NO_OPS: dict[str, tuple[object, ...] | None] = {
    "image_cfg_scale": ANY,  # instruct-pix2pix models only
    "initial_noise_multiplier": (1, 1.0, None), "include_init_images": ANY, "latent_mask": (None, ""),
    "mask_blur_x": (4, None), "mask_blur_y": (4, None), "mask_round": (True, None),
}


def parse_img2img(payload: dict, models: dict[str, tuple[str, str]], limits: Limits,
                  settings_check: Callable[[object], None]) -> Txt2Img:
    """txt2img's checks, plus the picture (exactly one), the mask and the picture settings; without a mask the
    inpaint settings are A1111's no-ops (webuiapi sends inpaint_full_res=true on every img2img)."""
    pictures = payload.get("init_images")
    if not isinstance(pictures, list) or len(pictures) != 1:
        raise refuse("init_images", "init_images must be a list of exactly one base64 image (the picture to start from).")
    picture = decode_image(pictures[0], "init_images[0]")
    if picture is None:
        raise refuse("init_images", "init_images[0] is empty; send the picture to start from as base64.")
    mask = decode_image(payload.get("mask"), "mask")
    values: dict[str, object] = {"init_image": picture, "mask": mask}
    for key, item in PICTURE_FIELDS.items():
        if payload.get(key) is None or (mask is None and item.setting.when in ("inpaint", "only_masked")):
            continue
        values[item.name] = _decoded(item, payload[key], key)
    return parse_txt2img(payload, models, limits, settings_check,
                         img2img={"handled": HANDLED, "no_ops": NO_OPS, "values": values})


def _decoded(item: SchemaField, value: object, key: str) -> object:
    """A coded choice's A1111 number (or bool, for two choices) as the choice it names; anything else as sent."""
    if not item.setting.coded or isinstance(value, str):
        return value
    choices = item.setting.choices
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int) and 0 <= value < len(choices):
        return choices[value]
    raise refuse(key, f"{key}={json.dumps(value)} is not one of A1111's codes: "
                      + ", ".join(f"{index} = {name}" for index, name in enumerate(choices)) + ".")
