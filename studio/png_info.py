"""What an image says about how it was made: its infotext (ours or A1111's), as text and as fields."""

from __future__ import annotations

from PIL import Image

from pipelines.infotext import parse_infotext


def infotext_of(image: Image.Image) -> str:
    """The PNG `parameters` chunk (or the JPEG/WebP comment A1111 writes), or ""."""
    text = image.info.get("parameters") or image.info.get("comment") or ""
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else text


def infotext_fields(text: str) -> dict:
    """The parsed fields: prompts, every key as text, and each ControlNet unit's fields."""
    if not text:
        return {}
    parsed = parse_infotext(text)
    return {"prompt": parsed.prompt, "negative_prompt": parsed.negative_prompt, **parsed.params, "units": parsed.units}
