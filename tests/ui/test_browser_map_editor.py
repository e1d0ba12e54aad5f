"""The artist's hand on the map, in Debian Chromium: paint on the detected Canny map and Generate with it; pose a figure
by dragging its wrist; pose JSON out and back in."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.ui.browser import SHOTS, TIMEOUT_MS, choose, download, generate_and_wait, set_number, wait_drawn, wait_map

pytestmark = pytest.mark.browser

FIXTURES = Path(__file__).resolve().parents[1] / "preprocessors" / "fixtures"
RIGHT_WRIST_COLOUR = (170, 255, 0)  # controlnet-aux's colour for OpenPose point 4


def _generate(page, width: int, height: int) -> tuple[Image.Image, str]:
    """Generate at this size; the map the unit used (from the Maps used gallery) and the infotext."""
    generate_and_wait(page, "a dancer on a stage", width, height, steps=2, seed=3)
    src = page.locator("#used-maps img").first.get_attribute("src")
    return download(page.url, src).convert("RGB"), page.locator("#infotext textarea").input_value()


def _unit_shot(page, name: str) -> None:
    """The control image, the map editor and its buttons (README's picture)."""
    page.locator("#unit0-image").scroll_into_view_if_needed()
    first, last = page.locator("#unit0-image").bounding_box(), page.locator("#unit0-to-compare").bounding_box()
    page.screenshot(path=str(SHOTS / name), clip={"x": first["x"] - 8, "y": first["y"] - 8,
                                                   "width": last["x"] + last["width"] - first["x"] + 16,
                                                   "height": last["y"] + last["height"] - first["y"] + 16})


def _empty_band(detected: np.ndarray, half: int = 8, length: int = 60) -> tuple[int, int]:
    """(row, first column) of a black band `length` wide and 2*half+1 high: where a stroke crosses empty map."""
    height, width = detected.shape
    for y in range(half + 10, height - half - 10):
        band = detected[y - half:y + half + 1].max(axis=0)
        run = 0
        for x in range(10, width - 10):
            run = run + 1 if band[x] == 0 else 0
            if run == length:
                return y, x - length + 1
    raise AssertionError("the Canny map has no empty band to paint across")


def test_paint_a_white_stroke_on_the_canny_map_generate_uses_it_and_reset_restores_it(page, drawing_path):
    page.locator("#unit0-image input[type=file]").set_input_files(drawing_path)
    set_number(page, "unit0-processor-res", 192)  # the map at the photo's own 256x192, as the output below
    detected = download(page.url, wait_map(page, 0, "canny", "256x192")).convert("L")
    y, x0 = _empty_band(np.asarray(detected))
    box = wait_drawn(page, "#map-editor", 30, 1000)  # the black map on the light canvas
    scale = min((box["width"] - 60) / 256, (box["height"] - 60) / 192)  # gradio fits the map with 30 px padding
    left, top = box["x"] + (box["width"] - 256 * scale) / 2, box["y"] + (box["height"] - 192 * scale) / 2
    at = lambda ix, iy: (left + (ix + 0.5) * scale, top + (iy + 0.5) * scale)  # noqa: E731
    page.mouse.move(*at(x0 + 8, y))
    page.mouse.down()
    page.mouse.move(*at(x0 + 52, y), steps=10)
    page.mouse.up()
    page.wait_for_function("() => document.querySelector('#unit0-preview-note')?.innerText.includes('Edited by hand')",
                           timeout=TIMEOUT_MS)  # the server has the stroke: Generate will use it
    _unit_shot(page, "map-editor.png")

    used, infotext = _generate(page, 256, 192)
    along = np.asarray(used.convert("L"))[y, x0 + 14:x0 + 46]
    assert (along == 255).all(), f"the stroke is not in the map used: {along}"
    assert (np.asarray(detected)[y, x0 + 14:x0 + 46] == 0).all()  # where the detected map was black
    assert "Module: none" in infotext and "Edited from: canny" in infotext

    # The edited map as a Compare column: the matrix's map on top is the painted one.
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-clear").click()
    page.get_by_role("tab", name="Generate").click()
    page.locator("#unit0-to-compare").click()
    page.wait_for_function("() => document.querySelector('#compare-columns')?.innerText.includes('own map 1 (canny)')")
    page.locator("#cmp-prompt textarea").fill("a dancer on a stage")
    for elem_id, value in (("cmp-steps", 2), ("cmp-width", 256), ("cmp-height", 192), ("cmp-seed", 3)):
        set_number(page, elem_id, value)
    page.locator("#compare-button").click()
    page.wait_for_function("() => document.querySelector('#compare-status')?.innerText.startsWith('Done')", timeout=TIMEOUT_MS)
    column_map = download(page.url, page.locator("#compare-gallery img").first.get_attribute("src")).convert("L")
    assert (np.asarray(column_map)[y, x0 + 14:x0 + 46] == 255).all(), "the Compare column's map lost the stroke"
    page.get_by_role("tab", name="Generate").click()

    # New thresholds would throw the edit away: asked first, and "Keep my edit" keeps it.
    set_number(page, "unit0-threshold-a", 20)
    page.locator("#unit0-keep-edit").wait_for(state="visible")
    page.locator("#unit0-keep-edit").click()
    page.locator("#unit0-keep-edit").wait_for(state="hidden")
    kept, _ = _generate(page, 256, 192)
    assert (np.asarray(kept.convert("L"))[y, x0 + 14:x0 + 46] == 255).all(), "keeping the edit lost the stroke"

    # Reset: the detected map of the settings now (threshold 20), pixel for pixel, and no edit in the infotext.
    old_link = page.locator("#unit0-preview-note a").get_attribute("href")
    page.locator("#unit0-map-reset").click()
    page.wait_for_function("(old) => document.querySelector('#unit0-preview-note a')?.getAttribute('href') !== old",
                           arg=old_link)
    detected_now = download(page.url, page.locator("#unit0-preview-note a").get_attribute("href")).convert("L")
    assert not np.array_equal(np.asarray(detected_now), np.asarray(detected))  # threshold 20 finds more edges
    restored, infotext = _generate(page, 256, 192)
    assert np.array_equal(np.asarray(restored.convert("L")), np.asarray(detected_now)), "reset did not restore the detected map"
    assert "Edited from" not in infotext and "Module: canny" in infotext and "Threshold A: 20" in infotext


def _export(page) -> dict:
    with page.expect_download() as done:
        page.locator("#pose-editor-export").click()
    return json.loads(Path(done.value.path()).read_text())


def _import(page, path: Path) -> None:
    with page.expect_file_chooser() as chooser:
        page.locator("#pose-editor-import").click()
    chooser.value.set_files(str(path))


def _wrist(picture: Image.Image) -> tuple[float, float]:
    ys, xs = np.nonzero(np.all(np.asarray(picture) == RIGHT_WRIST_COLOUR, axis=-1))
    assert len(xs), "no right wrist in the map"
    return float(xs.mean()), float(ys.mean())


def test_drag_the_right_wrist_60_px_then_export_and_import_the_pose(page, tmp_path):
    page.locator("#unit0-image button[aria-label='Remove Image']").first.click()
    choose(page, "unit0-family", "Pose")
    page.locator("#pose-editor").wait_for(state="visible")
    _import(page, FIXTURES / "openpose_pixels.json")  # 256x384 canvas, pixel coordinates, -1 for missing points
    wrist = page.locator('#pose-editor circle[data-part="body"][data-joint="4"]')
    wrist.wait_for()
    first, _ = _generate(page, 256, 384)
    before = _wrist(first)

    page.locator("#pose-editor svg").scroll_into_view_if_needed()
    svg = page.locator("#pose-editor svg").bounding_box()
    scale = min(svg["width"] / 256, svg["height"] / 384)  # the SVG shows the canvas letterboxed, as large as fits
    box = wrist.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60 * scale, y, steps=10)
    page.mouse.up()
    for _ in range(60):  # the server has the new pose once its export file has the new wrist
        exported = _export(page)
        if abs(exported["people"][0]["pose_keypoints_2d"][12] - before[0]) > 30:
            break
        page.wait_for_timeout(500)
    else:
        raise AssertionError(f"the exported pose never had the dragged wrist: {exported['people'][0]['pose_keypoints_2d'][12:14]}")
    page.locator("#pose-editor").screenshot(path=str(SHOTS / "pose-editor.png"))
    _unit_shot(page, "pose-map.png")
    moved, infotext = _generate(page, 256, 384)
    after = _wrist(moved)
    assert after[0] - before[0] == pytest.approx(60, abs=2) and after[1] == pytest.approx(before[1], abs=2)
    assert "Edited from: openpose_full" in infotext

    saved = tmp_path / "pose.json"
    saved.write_text(json.dumps(exported))
    page.locator("#pose-editor-delete").click()
    page.wait_for_function("() => !document.querySelector('#pose-editor circle')")
    _import(page, saved)
    wrist.wait_for()
    again, _ = _generate(page, 256, 384)
    assert np.array_equal(np.asarray(again), np.asarray(moved)), "export then import changed the map"


def test_a_pose_from_sd_webui_openpose_editor_imports_with_its_hand(page):
    _import(page, FIXTURES / "openpose_editor_normalised.json")
    page.wait_for_function("() => document.querySelectorAll('#pose-editor circle[data-part=\"left_hand\"]').length === 21")
    assert page.locator('#pose-editor circle[data-part="body"]').count() == 16
    assert page.locator("#pose-editor svg").get_attribute("viewBox") == "0 0 768 512"
