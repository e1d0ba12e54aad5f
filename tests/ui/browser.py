"""Driving Debian Chromium (Playwright) against the shared app: the flags, timeouts and small DOM helpers."""

from __future__ import annotations

import io
import os
import shutil
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("STUDIO_SCREENSHOTS", Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"))
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]
TIMEOUT_MS = 120_000


@contextmanager
def chromium_page(url: str) -> Iterator:
    """Debian Chromium on `url` once its page has drawn (for a test with its own server; the shared app has `page`)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.set_default_timeout(TIMEOUT_MS)
        tab.goto(url)
        tab.locator("#generate-button").wait_for()
        try:
            yield tab
        finally:
            browser.close()


def wait_drawn(page, editor: str, darker_than: int, pixels: int) -> dict:
    """An image editor's canvas box once its picture is drawn: bounded, until the canvas (light while empty) has
    `pixels` pixels darker than `darker_than`."""
    canvas = page.locator(f"{editor} .pixi-target canvas").first
    for _ in range(120):
        shot = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("L"))
        if (shot < darker_than).sum() > pixels:
            return canvas.bounding_box()
        page.wait_for_timeout(250)
    page.locator(editor).screenshot(path=str(SHOTS / f"{editor.strip('#')}-failed.png"))
    raise AssertionError(f"the picture never appeared in {editor} (see {editor.strip('#')}-failed.png)")


def set_number(page, elem_id: str, value) -> None:
    box = page.locator(f"#{elem_id} input[type=number]").first
    box.fill(str(value))
    box.press("Enter")


def generate_and_wait(page, prompt: str, width: int, height: int, steps: int, seed: int) -> None:
    """Generate one image with these settings and wait (bounded) for the status to say Done."""
    page.locator("#gen-prompt textarea").fill(prompt)
    for elem_id, value in (("gen-steps", steps), ("gen-width", width), ("gen-height", height), ("gen-seed", seed),
                           ("gen-batch", 1), ("gen-batch-count", 1)):
        set_number(page, elem_id, value)
    page.locator("#generate-button").click()
    page.wait_for_function("() => !document.querySelector('#generate-status')?.innerText.startsWith('Done')")
    page.wait_for_function("() => document.querySelector('#generate-status')?.innerText.startsWith('Done')",
                           timeout=TIMEOUT_MS)


def image_src(page, selector: str) -> str:
    return page.locator(f"{selector} img").first.get_attribute("src") or ""


def absolute(app_url: str, src: str) -> str:
    return src if src.startswith("http") else app_url.rstrip("/") + "/" + src.lstrip("/")


def fetch(app_url: str, src: str) -> bytes:
    with urllib.request.urlopen(absolute(app_url, src), timeout=30) as response:
        return response.read()


def download(app_url: str, src: str) -> Image.Image:
    return Image.open(io.BytesIO(fetch(app_url, src)))


def choose(page, elem_id: str, option: str) -> None:
    """Pick a dropdown option as a user does (fires the dropdown's input event)."""
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def pick_radio(page, elem_id: str, option: str) -> None:
    page.locator(f'#{elem_id} label[data-testid="{option}-radio-label"]').click()


def tick(page, elem_id: str, on: bool = True) -> None:
    box = page.locator(f"#{elem_id} input[type=checkbox]")
    if box.is_checked() != on:
        box.click()


def shown(page, elem_id: str, kind: str):
    """What a control shows now, as the user reads it."""
    if kind == "dropdown":
        return page.locator(f"#{elem_id} input").input_value()
    if kind == "number":
        return float(page.locator(f"#{elem_id} input[type=number]").input_value())
    if kind == "radio":
        return page.locator(f"#{elem_id} label.selected input").get_attribute("value")
    if kind == "checkbox":
        return page.locator(f"#{elem_id} input[type=checkbox]").is_checked()
    return page.locator(f"#{elem_id} input, #{elem_id} textarea").first.input_value()


def set_columns(page, columns: list[str], families: tuple[str, ...] = ()) -> None:
    """Replace the Compare tab's columns as a user does: clear, add each (a + b: pick both, then Add), then families."""
    table = page.locator("#compare-columns")
    page.locator("#compare-clear").click()
    table.get_by_test_id("cell-0-0").wait_for(state="detached")
    for row, column in enumerate(columns):
        for name in column.split("+"):
            choose(page, "compare-add", name.strip())
            page.keyboard.press("Escape")  # close the multiselect's list
        page.locator("#compare-add-button").click()
        table.get_by_test_id(f"cell-{row}-0").get_by_text(column, exact=True).wait_for()
    for family in families:
        choose(page, "compare-family", family)
        page.locator("#compare-add-family").click()


def wait_map(page, unit: int = 0, name: str = "", size: str = "") -> str:
    """Wait until the unit's map editor holds a map (of preprocessor `name` and `size` "WxH", if given); its download
    link's address."""
    note, name = f"#unit{unit}-preview-note", f"{name} map" + (f", {size}" if size else "")
    try:
        page.wait_for_function("([note, name]) => { const link = document.querySelector(note + ' a');"
                               " return link && document.querySelector(note).innerText.includes(name); }",
                               arg=[note, name], timeout=TIMEOUT_MS)
    except Exception as error:  # say which map the page showed instead
        raise AssertionError(f"no '{name}' line; the line says: {page.locator(note).inner_text()!r}") from error
    return map_src(page, unit)


def map_src(page, unit: int = 0) -> str:
    """The address of the map the unit's editor was given (its "Download the detected map" link)."""
    return page.locator(f"#unit{unit}-preview-note a").first.get_attribute("href") or ""
