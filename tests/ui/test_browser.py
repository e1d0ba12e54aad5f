"""An artist's session in Debian Chromium (Playwright): upload, tune Canny, generate, compare, history."""

from __future__ import annotations

import io
import os
import shutil
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("STUDIO_SCREENSHOTS", Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"))
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]
TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def page(app):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian chromium is required: apt-get install -y chromium"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        tab.set_default_timeout(TIMEOUT_MS)
        tab.goto(app.url)
        tab.locator("#generate-button").wait_for()
        yield tab
        context.close()
        browser.close()


def _set_number(page, elem_id: str, value) -> None:
    box = page.locator(f"#{elem_id} input[type=number]").first
    box.fill(str(value))
    box.press("Enter")


def _image_src(page, selector: str) -> str:
    return page.locator(f"{selector} img").first.get_attribute("src") or ""


def _absolute(app_url: str, src: str) -> str:
    return src if src.startswith("http") else app_url.rstrip("/") + "/" + src.lstrip("/")


def _download(app_url: str, src: str) -> Image.Image:
    with urllib.request.urlopen(_absolute(app_url, src), timeout=30) as response:
        return Image.open(io.BytesIO(response.read()))


def test_artist_session(page, app, drawing_path):
    # Upload and see the Canny map.
    page.locator("#unit0-image input[type=file]").set_input_files(drawing_path)
    page.locator("#unit0-preview img").first.wait_for()
    first_src = _image_src(page, "#unit0-preview")
    first_map = _download(app.url, first_src)

    # Lowering the low threshold adds edges: the preview must change.
    _set_number(page, "unit0-threshold-a", 10)
    _set_number(page, "unit0-threshold-b", 40)
    page.wait_for_function(
        "(old) => { const img = document.querySelector('#unit0-preview img'); return img && img.src !== old; }",
        arg=_absolute(app.url, first_src),
        timeout=TIMEOUT_MS)
    second_map = _download(app.url, _image_src(page, "#unit0-preview"))
    assert first_map.tobytes() != second_map.tobytes()
    page.screenshot(path=str(SHOTS / "preview.png"), full_page=False)

    # Generate two images.
    page.locator("#gen-prompt textarea").fill("a cozy cabin, watercolor")
    for elem_id, value in (("gen-steps", 3), ("gen-width", 128), ("gen-height", 128), ("gen-batch", 2), ("gen-seed", 42)):
        _set_number(page, elem_id, value)
    page.locator("#generate-button").click()
    page.wait_for_function("() => document.querySelector('#generate-status')?.innerText.includes('Done')", timeout=TIMEOUT_MS)
    results = page.locator("#results-gallery img")
    assert results.count() >= 2
    page.screenshot(path=str(SHOTS / "generate.png"), full_page=True)
    downloaded = _download(app.url, results.first.get_attribute("src"))
    assert downloaded.format == "PNG"
    assert "Seed: 42" in downloaded.info["parameters"] and "a cozy cabin, watercolor" in downloaded.info["parameters"]

    # Compare three conditions.
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-image input[type=file]").set_input_files(drawing_path)
    boxes = page.locator("#compare-conditions input[type=checkbox]")
    wanted = {"canny", "lineart_standard", "softedge_pidinet"}
    for index in range(boxes.count()):
        box = boxes.nth(index)
        name = box.evaluate("el => el.closest('label').innerText.trim()")
        if box.is_checked() != (name in wanted):
            box.click()
    page.locator("#cmp-prompt textarea").fill("a cozy cabin, watercolor")
    for elem_id, value in (("cmp-steps", 2), ("cmp-width", 128), ("cmp-height", 128), ("cmp-seed", 7)):
        _set_number(page, elem_id, value)
    page.locator("#compare-button").click()
    page.wait_for_function("() => document.querySelector('#compare-status')?.innerText.includes('Done')", timeout=TIMEOUT_MS)
    cells = page.locator("#compare-gallery img")
    assert cells.count() == 6  # 3 maps + 3 results
    captions = page.locator("#compare-gallery").inner_text()
    for name in wanted:
        assert f"{name} · map" in captions and f"{name} · seed 7" in captions
    page.locator("#compare-grid img").first.wait_for()
    page.screenshot(path=str(SHOTS / "compare.png"), full_page=True)

    # History lists this session's results.
    page.get_by_role("tab", name="History").click()
    page.locator("#history-gallery img").first.wait_for()
    assert page.locator("#history-gallery img").count() >= 2
    page.screenshot(path=str(SHOTS / "history.png"), full_page=True)
