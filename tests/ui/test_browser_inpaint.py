"""Inpaint in Debian Chromium: upload a picture into the img2img panel, paint a stroke on it, Generate; the stroke's
area is repainted and every pixel beyond the blurred mask's reach is the picture's own."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.ui.browser import SHOTS, download, generate_and_wait, set_number, tick, wait_drawn

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 256, 192


@pytest.fixture(scope="module")
def picture_path(tmp_path_factory) -> str:
    """A smooth, dark picture (so the editor's light canvas and a white stroke both stand out from it)."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    pixels = np.stack([x // 2, y // 2, 60 + 0 * x], axis=-1).astype(np.uint8)
    path = tmp_path_factory.mktemp("inpaint") / "picture.png"
    Image.fromarray(pixels).save(path)
    return str(path)


def test_paint_a_mask_inpaint_and_the_rest_of_the_picture_is_unchanged(page, picture_path):
    tick(page, "unit0-enabled", False)  # no ControlNet: inpaint alone
    page.locator("#img2img-panel").get_by_text("img2img / inpaint").first.click()
    page.locator("#img2img-editor .pixi-target canvas").first.wait_for(state="visible")  # the editor takes files once drawn
    page.locator("#img2img-editor input[type=file]").set_input_files(picture_path)
    box = wait_drawn(page, "#img2img-editor", 90, 5000)  # the dark picture on the light canvas
    scale = min((box["width"] - 60) / WIDTH, (box["height"] - 60) / HEIGHT)  # gradio fits the picture, 30 px padding
    left, top = box["x"] + (box["width"] - WIDTH * scale) / 2, box["y"] + (box["height"] - HEIGHT * scale) / 2
    at = lambda ix, iy: (left + ix * scale, top + iy * scale)  # noqa: E731
    page.mouse.move(*at(90, 96))
    page.mouse.down()
    page.mouse.move(*at(170, 96), steps=12)
    page.mouse.up()
    set_number(page, "img2img-strength", 0.9)
    set_number(page, "img2img-mask-blur", 4)
    page.locator("#img2img-panel").screenshot(path=str(SHOTS / "inpaint-panel.png"))

    generate_and_wait(page, "a bright red ribbon", WIDTH, HEIGHT, steps=3, seed=8)
    result = np.asarray(download(page.url, page.locator("#results-gallery img").first.get_attribute("src")).convert("RGB"),
                        dtype=np.int16)
    original = np.asarray(Image.open(picture_path).convert("RGB"), dtype=np.int16)
    changed = np.abs(result - original).max(axis=-1) > 0
    rows, cols = np.nonzero(changed)
    assert changed[90:103, 100:160].mean() > 0.5, "the painted stroke was not repainted"
    # the stroke (brush 24 display px) plus the blur (4 px, reaching ~12 px) stays within a band around row 96
    assert rows.min() >= 96 - 40 and rows.max() <= 96 + 40 and cols.min() >= 90 - 45 and cols.max() <= 170 + 45
    assert not changed[:40].any() and not changed[-40:].any(), "pixels far from the mask changed"
    infotext = page.locator("#infotext textarea").input_value()
    assert "Denoising strength: 0.9" in infotext and "Mask blur: 4" in infotext

    # Send the result to img2img: it becomes the picture, and the painted mask goes with the old picture.
    assert _white(page) > 1000  # the stroke, before
    page.locator("#gen-to-img2img").click()
    for _ in range(480):  # bounded (2 min, as the other waits): until the editor has redrawn without the stroke
        if _white(page) < 20:
            break
        page.wait_for_timeout(250)
    assert _white(page) < 20, "the result did not replace the picture in the img2img editor"
    tick(page, "unit0-enabled", True)


def _white(page) -> int:
    """Pure white pixels at the middle of the img2img editor's picture (where the stroke was painted; the picture
    has none there, and the canvas's white margins are outside this window)."""
    shot = np.asarray(Image.open(io.BytesIO(page.locator("#img2img-editor .pixi-target canvas").first.screenshot())).convert("RGB"))
    middle_y, middle_x = shot.shape[0] // 2, shot.shape[1] // 2
    window = shot[middle_y - 15:middle_y + 15, middle_x - 40:middle_x + 40]
    return int(np.all(window >= 250, axis=-1).sum())
