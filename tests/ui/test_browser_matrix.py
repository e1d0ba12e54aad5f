"""The XY matrix in Chromium: three columns crossed with three weights; finished cells show while the rest still run,
and the finished grid has the maps on top and a caption on every row and column."""

from __future__ import annotations

import pytest

from tests.ui.browser import SHOTS, TIMEOUT_MS, choose, set_number

pytestmark = pytest.mark.browser
COLUMNS = {"canny", "lineart_standard", "softedge_pidinet"}
WEIGHTS = ("0.5", "1", "1.5")


def test_a_weight_matrix_streams_its_cells_and_labels_every_row(page, app, drawing_path):
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-image input[type=file]").set_input_files(drawing_path)
    boxes = page.locator("#compare-conditions input[type=checkbox]")
    for index in range(boxes.count()):
        box = boxes.nth(index)
        if box.is_checked() != (box.evaluate("el => el.closest('label').innerText.trim()") in COLUMNS):
            box.click()
    choose(page, "compare-y-axis", "weight")
    page.locator("#compare-y-values input").fill(", ".join(WEIGHTS))
    page.locator("#cmp-prompt textarea").fill("a lighthouse, ink")
    for elem_id, value in (("cmp-steps", 20), ("cmp-width", 128), ("cmp-height", 128), ("cmp-seed", 5)):
        set_number(page, elem_id, value)
    page.locator("#compare-button").click()

    # 9 cells make two UNet batches (8 + 1): the first batch's cells are shown while the last one still runs.
    try:
        page.wait_for_function("() => /Cell [1-8] of 9 done/.test(document.querySelector('#compare-status')?.innerText)",
                               timeout=TIMEOUT_MS)
    except Exception:
        page.screenshot(path=str(SHOTS / "matrix-failed.png"), full_page=True)
        raise AssertionError(f"no cell shown mid-run; status: {page.locator('#compare-status').inner_text()!r}; "
                             f"server log ends:\n{app.log()[-2000:]}") from None
    captions = page.locator("#compare-gallery").inner_text()
    page.screenshot(path=str(SHOTS / "matrix-mid-run.png"), full_page=True)
    assert "running…" in captions and "weight = 0.5 · seed 5" in captions

    page.wait_for_function("() => document.querySelector('#compare-status')?.innerText.startsWith('Done')", timeout=TIMEOUT_MS)
    captions = page.locator("#compare-gallery").inner_text()
    assert "running…" not in captions
    for column in COLUMNS:
        assert f"{column} · map" in captions
        for weight in WEIGHTS:
            assert f"{column} · weight = {weight} · seed 5" in captions
    assert page.locator("#compare-gallery img").count() == 3 + 9
    page.locator("#compare-grid img").first.wait_for()
    page.screenshot(path=str(SHOTS / "matrix.png"), full_page=True)
