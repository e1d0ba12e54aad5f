"""Send to Generate in Chromium: every control of two units and the sampler settings comes back from a PNG, and
generating again makes the same pixels."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.ui.browser import SHOTS, TIMEOUT_MS, choose, fetch, pick_radio, set_number, shown, tick

pytestmark = pytest.mark.browser


def unit_values(index: int, family: str, module: str, thresholds: tuple, condition: str, model: str, weight: float,
                start: float, end: float, control_mode: str, resize_mode: str) -> dict[str, tuple[str, object]]:
    """The non-default values set in one unit, by elem id."""
    u = f"unit{index}"
    values = {f"{u}-enabled": ("checkbox", True), f"{u}-family": ("dropdown", family), f"{u}-module": ("dropdown", module),
              f"{u}-condition": ("dropdown", condition), f"{u}-model": ("text", model), f"{u}-weight": ("number", weight),
              f"{u}-guidance-start": ("number", start), f"{u}-guidance-end": ("number", end),
              f"{u}-control-mode": ("radio", control_mode), f"{u}-resize-mode": ("radio", resize_mode),
              f"{u}-pixel-perfect": ("checkbox", True)}
    for suffix, value in zip(("a", "b"), thresholds):
        values[f"{u}-threshold-{suffix}"] = ("number", value)
    return values


def set_unit(page, index: int, image: str, values: dict) -> None:
    u = f"unit{index}"
    tick(page, f"{u}-enabled")
    page.locator(f"#{u}-image input[type=file]").set_input_files(image)
    choose(page, f"{u}-family", values[f"{u}-family"][1])
    choose(page, f"{u}-module", values[f"{u}-module"][1])
    choose(page, f"{u}-condition", values[f"{u}-condition"][1])
    page.locator(f"#{u}-model input").fill(values[f"{u}-model"][1])  # a path typed into the dropdown, as allowed
    page.locator(f"#{u}-model input").press("Enter")  # and confirmed, which closes its list
    for elem_id, (kind, value) in values.items():
        if kind == "number":
            page.locator(f"#{elem_id} input[type=number]").wait_for()
            set_number(page, elem_id, value)
    pick_radio(page, f"{u}-control-mode", values[f"{u}-control-mode"][1])
    pick_radio(page, f"{u}-resize-mode", values[f"{u}-resize-mode"][1])
    tick(page, f"{u}-pixel-perfect")


def generate(page, app) -> bytes:
    """Click Generate, wait for Done, and return the first result's PNG file."""
    page.locator("#generate-button").click()
    try:
        page.wait_for_function("() => document.querySelector('#generate-status')?.innerText.includes('Done') "
                               "|| document.querySelector('.toast-body')", timeout=TIMEOUT_MS)
    except Exception:
        page.screenshot(path=str(SHOTS / "send-to-generate-failed.png"), full_page=True)
        raise AssertionError(f"no result; the server's log ends:\n{app.log()[-3000:]}") from None
    toasts = page.locator(".toast-body")
    assert toasts.count() == 0, toasts.first.inner_text()
    return fetch(app.url, page.locator("#results-gallery img").first.get_attribute("src"))


def test_send_to_generate_restores_every_control_and_the_pixels(page, app, drawing_path, ui_models_dir, tmp_path):
    settings = {"gen-steps": ("number", 3), "gen-cfg": ("number", 2.0), "gen-width": ("number", 96),
                "gen-height": ("number", 64), "gen-batch": ("number", 2), "gen-seed": ("number", 4242),
                "gen-sampler": ("dropdown", "LCM"), "gen-draft": ("checkbox", True)}
    units = [
        unit_values(0, "Line_Art", "lineart_standard", (3.0, 12.0), "canny", str(ui_models_dir / "my-canny"), 0.8, 0.1, 0.9,
                    "My prompt is more important", "Just Resize"),
        unit_values(1, "Soft_Edge", "softedge_teed", (5.0,), "depth", str(ui_models_dir / "my-depth"), 1.3, 0.2, 0.7,
                    "ControlNet is more important", "Resize and Fill"),
    ]
    page.locator("#gen-prompt textarea").fill("a lighthouse at dusk, 夜")
    tick(page, "gen-draft")  # draft mode switches the sampler to LCM, 6 steps, CFG 1.5; steps and CFG are set after it
    page.wait_for_function("() => document.querySelector('#gen-sampler input')?.value === 'LCM'", timeout=TIMEOUT_MS)
    page.wait_for_function("() => document.querySelector('#gen-steps input[type=number]')?.value === '6'", timeout=TIMEOUT_MS)
    for elem_id, (kind, value) in settings.items():
        if kind == "number":
            set_number(page, elem_id, value)
    set_unit(page, 0, drawing_path, units[0])
    page.get_by_text("ControlNet unit 1", exact=True).click()
    set_unit(page, 1, drawing_path, units[1])
    expected = {**settings, **units[0], **units[1]}
    assert {elem_id: shown(page, elem_id, kind) for elem_id, (kind, _) in expected.items()} == {
        elem_id: value for elem_id, (_, value) in expected.items()}, "the test did not set what it meant to"
    first_png = generate(page, app)
    first = Image.open(io.BytesIO(first_png))
    infotext = first.info["parameters"]
    assert "Draft: True" in infotext and "Module: lineart_standard" in infotext and "Module: softedge_teed" in infotext
    png = tmp_path / "first.png"
    png.write_bytes(first_png)

    # The History tab's own Send to Generate, in this session.
    page.get_by_role("tab", name="History").click()
    page.locator("#history-gallery img").first.click()
    page.locator("#history-send").click()
    page.wait_for_function("() => document.querySelector('#generate-status')?.innerText.includes('restored')",
                           timeout=TIMEOUT_MS)

    # A fresh page shows the defaults; the PNG alone brings every setting back.
    page.reload()
    page.locator("#generate-button").wait_for()
    assert not shown(page, "gen-draft", "checkbox") and shown(page, "unit0-family", "dropdown") == "Canny"
    page.get_by_role("tab", name="History").click()
    page.locator("#pnginfo-file input[type=file]").set_input_files(str(png))
    page.wait_for_function("() => document.querySelector('#pnginfo-text textarea')?.value.includes('Steps: 3')",
                           timeout=TIMEOUT_MS)
    page.locator("#pnginfo-send").click()
    page.wait_for_function("() => document.querySelector('#generate-status')?.innerText.includes('restored')",
                           timeout=TIMEOUT_MS)
    page.get_by_text("ControlNet unit 1", exact=True).click()
    restored = {elem_id: shown(page, elem_id, kind) for elem_id, (kind, _) in expected.items()}
    page.screenshot(path=str(SHOTS / "send-to-generate.png"), full_page=True)
    assert restored == {elem_id: value for elem_id, (_, value) in expected.items()}
    assert "Not restored" not in page.locator("#generate-status").inner_text()
    assert page.locator(".toast-body").count() == 0, page.locator(".toast-body").first.inner_text()

    # The control images are not in a PNG: upload them again, then the same pixels come out.
    for index in (0, 1):
        page.locator(f"#unit{index}-image input[type=file]").set_input_files(drawing_path)
    second = Image.open(io.BytesIO(generate(page, app)))
    assert second.info["parameters"] == infotext
    assert np.array_equal(np.asarray(second), np.asarray(first))

