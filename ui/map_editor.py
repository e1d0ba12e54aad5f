"""A unit's map as an editor: the detected map to paint on in the map's own palette, what the unit then uses, and the
question asked before new preprocessor settings would throw an edit away."""

from __future__ import annotations

import hashlib
from collections import deque

import gradio as gr
import numpy as np
from PIL import Image

LINE_COLOURS = ("#ffffff", "#000000")  # edge and line maps: white lines on black
GREYS = tuple(f"#{level:02x}{level:02x}{level:02x}" for level in (255, 224, 192, 160, 128, 96, 64, 32, 0))  # depth: near is light
POSE_COLOURS = ("#ff0000", "#ff5500", "#ffaa00", "#ffff00", "#aaff00", "#55ff00", "#00ff00", "#00ff55", "#00ffaa",
                "#00ffff", "#00aaff", "#0055ff", "#0000ff", "#5500ff", "#aa00ff", "#ff00ff", "#ff00aa", "#ff0055", "#000000")


def palette(condition: str, picture: Image.Image | None) -> gr.Brush:
    """The brush an artist needs for this kind of map: its own colours, so a stroke reads as part of the map."""
    if condition == "depth":
        return gr.Brush(colors=list(GREYS), default_color=GREYS[0], color_mode="defaults", default_size=12)
    exact = condition == "seg"  # class colours exactly: a blend would be no class
    if condition in ("normal", "tile", "inpaint", "shuffle", "ip2p") or exact and picture is not None:
        colours = dominant_colours(picture, exact=exact) if picture is not None else ["#8080ff"]
        return gr.Brush(colors=colours, default_color=colours[0], color_mode="defaults", default_size=12)
    if condition == "openpose":
        return gr.Brush(colors=list(POSE_COLOURS), default_color="#000000", color_mode="fixed", default_size=8)
    return gr.Brush(colors=list(LINE_COLOURS), default_color=LINE_COLOURS[0], color_mode="fixed", default_size=3)


def dominant_colours(picture: Image.Image, count: int = 8, exact: bool = False) -> list[str]:
    """The colours a map is mostly made of, most common first: PIL's median cut (a normal map's shades), or its own
    colours exactly (a segmentation map's classes; grey when it has too many to be one)."""
    rgb = picture.convert("RGB")
    if exact:
        found = sorted(rgb.getcolors(maxcolors=1 << 16) or [], reverse=True)[:count]
        return [_hex(colour) for _, colour in found] or ["#787878"]
    quantised = rgb.quantize(colors=count, method=Image.Quantize.MEDIANCUT)
    flat = quantised.getpalette() or []
    return [_hex(flat[3 * index:3 * index + 3]) for _, index in sorted(quantised.getcolors() or [], reverse=True)]


def _hex(rgb) -> str:
    red, green, blue = rgb
    return f"#{red:02x}{green:02x}{blue:02x}"


def shown(picture: Image.Image | None, layers: list | None = None) -> dict | None:
    """The editor's value for a map: it as the background, with no strokes (or the strokes kept from before)."""
    if picture is None:
        return None
    return {"background": picture, "layers": list(layers or []), "composite": None}


class MapEdit:
    """One visitor's unit: the map the preprocessor made (what "reset" restores and what counts as unedited), the
    preprocessor that made it, and a newer map waiting for the artist's answer. A plain class: gradio's State would
    try to serialise a dataclass type as its default value."""

    RECENT = 8

    def __init__(self) -> None:
        self.detected: Image.Image | None = None
        self.module = ""
        self.pending: tuple | None = None  # (map, people, sentence) of settings changed after an edit
        self._given: deque[str] = deque(maxlen=self.RECENT)  # fingerprints of the maps lately sent to the editor
        self.touched = False  # the artist painted (the editor's change event) or posed since the last map was loaded
        self.note = ""  # the line naming the map now in the editor

    def load(self, picture: Image.Image | None, module: str) -> None:
        self.detected, self.module, self.pending, self.touched = picture, module, None, False
        if picture is not None:
            self._given.append(_fingerprint(picture))

    def edited_map(self, value: dict | None) -> Image.Image | None:
        """The editor's map when the artist changed it (painted, or posed), else None: the unit then runs as set.
        Any map lately sent counts as unedited: quick picks put one map on the wire while the next is detected, and
        the browser may still show the one before."""
        picture = flattened(value)
        if picture is None or _fingerprint(picture) in self._given:
            return None
        return picture

    def mark(self, value: dict | None) -> str:
        """After a stroke or an undo: whether the map now differs from the one the preprocessor made; the map's line,
        saying so once the server has the edit (so an artist, and a test, knows Generate will use it)."""
        self.touched = self.edited_map(value) is not None
        return f"{self.note} **Edited by hand.**" if self.touched and self.note else self.note

    def edit(self, value: dict | None) -> Image.Image | None:
        """The artist's edit a job uses: only after a stroke or a pose edit, since a browser that has not yet dropped
        the strokes a reset cleared would read as edited."""
        return self.edited_map(value) if self.touched else None


def _fingerprint(picture: Image.Image) -> str:
    rgb = picture.convert("RGB")
    return f"{rgb.size}:{hashlib.blake2b(rgb.tobytes(), digest_size=16).hexdigest()}"


def flattened(value: dict | None) -> Image.Image | None:
    """The map the editor shows: its composite, or (before the browser has drawn one) the background under the strokes;
    None for an empty editor."""
    value = value or {}
    composite = value.get("composite")
    if composite is None and value.get("background") is not None:
        composite = value["background"].convert("RGBA")
        for layer in value.get("layers") or []:
            composite = Image.alpha_composite(composite, layer.convert("RGBA").resize(composite.size))
    if composite is None or not np.asarray(composite.convert("RGBA"))[..., 3].any():
        return None
    return composite.convert("RGB")
