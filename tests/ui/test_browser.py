"""An artist's session in Debian Chromium (Playwright): upload, tune Canny, generate, compare, history."""

from __future__ import annotations

import pytest

from tests.ui.browser import SHOTS, TIMEOUT_MS, download, map_src, set_columns, set_number, wait_map

pytestmark = pytest.mark.browser


def test_artist_session(page, app, drawing_path):
    # Upload and see the Canny map.
    page.locator("#unit0-image input[type=file]").set_input_files(drawing_path)
    first_src = wait_map(page, 0, "canny")
    first_map = download(app.url, first_src)

    # Lowering the low threshold adds edges: the preview must change.
    set_number(page, "unit0-threshold-a", 10)
    set_number(page, "unit0-threshold-b", 40)
    page.wait_for_function(
        "(old) => { const link = document.querySelector('#unit0-preview-note a'); return link && link.getAttribute('href') !== old; }",
        arg=first_src, timeout=TIMEOUT_MS)
    second_map = download(app.url, map_src(page, 0))
    assert first_map.tobytes() != second_map.tobytes()
    page.screenshot(path=str(SHOTS / "preview.png"), full_page=False)

    # Generate two images.
    page.locator("#gen-prompt textarea").fill("a cozy cabin, watercolor")
    for elem_id, value in (("gen-steps", 3), ("gen-width", 128), ("gen-height", 128), ("gen-batch", 2), ("gen-seed", 42)):
        set_number(page, elem_id, value)
    page.locator("#generate-button").click()
    page.wait_for_function("() => document.querySelector('#generate-status')?.innerText.includes('Done')", timeout=TIMEOUT_MS)
    results = page.locator("#results-gallery img")
    assert results.count() >= 2
    page.screenshot(path=str(SHOTS / "generate.png"), full_page=True)
    downloaded = download(app.url, results.first.get_attribute("src"))
    assert downloaded.format == "PNG"
    assert "Seed: 42" in downloaded.info["parameters"] and "a cozy cabin, watercolor" in downloaded.info["parameters"]

    # Compare three conditions.
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-image input[type=file]").set_input_files(drawing_path)
    wanted = ["canny", "lineart_standard", "softedge_pidinet"]
    set_columns(page, wanted)
    page.locator("#cmp-prompt textarea").fill("a cozy cabin, watercolor")
    for elem_id, value in (("cmp-steps", 2), ("cmp-width", 128), ("cmp-height", 128), ("cmp-seed", 7)):
        set_number(page, elem_id, value)
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
