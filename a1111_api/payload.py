"""Reading an A1111 request body: its size bounded before parsing, base64 images decoded under the upload limits, and
A1111's fields this studio has no use for accepted only at the values where they change nothing."""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
from collections.abc import AsyncIterator

from PIL import Image

from a1111_api.errors import ApiError, refuse
from studio.uploads import UploadError, open_upload

MAX_BODY_BYTES = 64 * 1024 * 1024  # several base64 images at the upload limit; a body past it is refused unread
ANY = None  # in NO_OPS: every value changes nothing here


async def read_json(chunks: AsyncIterator[bytes], limit: int = MAX_BODY_BYTES) -> dict:
    """The body as a JSON object, read chunk by chunk so an oversized one is refused before it fills memory."""
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise ApiError(413, f"The request body is over {limit // 1024 // 1024} MB; send smaller images.")
    try:
        payload = json.loads(body or b"{}", parse_constant=lambda name: math.nan)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(422, "The request body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise ApiError(422, "The request body must be a JSON object of A1111's fields.")
    return payload


def decode_image(value: object, field: str) -> Image.Image | None:
    """Raw base64 or a `data:` URL (what A1111 and sd-webui-controlnet accept) -> an RGB image; "" or null -> None."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise refuse(field, f"{field} must be a base64 PNG/JPEG/WebP (raw, or as a data: URL).")
    text = value.split(",", 1)[1] if value.startswith("data:") else value
    try:
        data = base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError):
        raise refuse(field, f"{field} is not valid base64.") from None
    try:
        return open_upload(Image.open(io.BytesIO(data)))  # header first: the pixel limit holds before decoding
    except Image.DecompressionBombError:
        raise refuse(field, f"{field} is over the upload pixel limit; scale it down first.") from None
    except (OSError, ValueError) as error:
        raise refuse(field, f"{field} is not an image we can read; send a PNG, JPEG or WebP.") from error
    except UploadError as error:
        raise refuse(field, f"{field}: {error}") from None


def encode_png(image: Image.Image) -> str:
    """Raw base64 of a PNG, its text chunks (the infotext) kept: the form A1111 returns."""
    from pipelines.outputs import png_info

    buffer = io.BytesIO()
    infotext = image.info.get("parameters")
    image.save(buffer, format="PNG", pnginfo=png_info(infotext) if isinstance(infotext, str) else None)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def empty(value: object) -> bool:
    """A value that asks for nothing: null, false, zero, "", [] or {}."""
    return value is None or value is False or value == 0 or value in ("", [], {})


# A1111 txt2img fields this studio does not have, and the values at which A1111 itself does nothing with them (what
# clients send by default). The refiner, variation seeds and scripts are refused above their no-op values, so the fields
# that only matter with them (subseed, refiner_switch_at) are free.
NO_OPS: dict[str, tuple[object, ...] | None] = {
    "restore_faces": (False, None), "tiling": (False, None), "styles": ([], None),
    "subseed_strength": (0, None), "subseed": ANY, "seed_resize_from_h": (0, -1, None), "seed_resize_from_w": (0, -1, None),
    "s_churn": (0, None), "s_tmax": (0, None), "s_tmin": (0, None), "s_noise": (1, None), "s_min_uncond": (0, None),
    "refiner_checkpoint": (None, "", "None"), "refiner_switch_at": ANY, "script_name": (None, ""), "script_args": ([], None),
    "firstpass_image": (None, ""), "infotext": (None, ""), "comments": (None, {}),
    "do_not_save_samples": ANY, "do_not_save_grid": ANY, "override_settings_restore_afterwards": ANY,
    "disable_extra_networks": ANY, "force_task_id": ANY, "firstphase_width": ANY, "firstphase_height": ANY,
    # hires fix's own checkpoint, sampler and prompts: only "the same as the first pass"
    "hr_checkpoint_name": (None, "", "Use same checkpoint"), "hr_sampler_name": (None, "", "Use same sampler"),
    "hr_scheduler": (None, "", "Use same scheduler"), "hr_prompt": ("", None), "hr_negative_prompt": ("", None),
    "hr_additional_modules": ANY,
}
WHY = {"hr_checkpoint_name": "a hires checkpoint", "hr_sampler_name": "a hires sampler",
       "hr_scheduler": "a hires schedule", "hr_prompt": "a hires prompt", "hr_negative_prompt": "a hires prompt",
       "restore_faces": "face restoration", "tiling": "tiling", "styles": "saved styles",
       "subseed_strength": "variation seeds", "refiner_checkpoint": "the refiner", "script_name": "scripts",
       "infotext": "settings from an infotext", "firstpass_image": "a first-pass image"}


def check_unused(payload: dict, handled: set[str], where: str = "", no_ops: dict | None = None) -> None:
    """Every field outside `handled` must be a known no-op at a value that changes nothing, or an unknown field that
    asks for nothing; anything else is refused by name rather than ignored."""
    for key, value in payload.items():
        if key in handled:
            continue
        name = f"{where}{key}"
        table = NO_OPS if no_ops is None else no_ops
        if key in table:
            allowed = table[key]
            if allowed is ANY or value in allowed:
                continue
            feature = WHY.get(key, key)
            raise refuse(name, f"{name}={json.dumps(value)} asks for {feature}, which this server does not have; "
                               f"send {json.dumps(allowed[0])} or leave it out.")
        if not empty(value):
            raise refuse(name, f"{name} is not a field this server knows; leave it out (it would be ignored here, and "
                               "ignoring what you asked for would give you a different picture).")
