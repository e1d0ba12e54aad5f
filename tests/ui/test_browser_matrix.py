"""The XY matrix in Chromium: a Canny column and the whole Depth family crossed with three weights; finished cells show
while the rest still run, the finished grid has the maps on top and a caption on every row and column, the ZIP holds
every cell with its infotext, two clicked cells meet in the slider, and Send to Generate restores a cell's settings."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from preprocessors import families
from tests.ui.browser import SHOTS, TIMEOUT_MS, choose, fetch, set_columns, set_number, shown

pytestmark = pytest.mark.browser
COLUMNS = ["canny", *families()["Depth"]]
WEIGHTS = ("0.5", "1", "1.5")


def test_a_family_matrix_streams_its_cells_and_every_cell_can_be_reused(page, app, drawing_path):
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-image input[type=file]").set_input_files(drawing_path)
    set_columns(page, ["canny"], families=("Depth",))
    readiness = page.locator("#compare-readiness")
    rows = readiness.locator("tbody tr")
    page.wait_for_function(f"() => document.querySelectorAll('#compare-readiness tbody tr').length === {len(COLUMNS)}")
    for number, column in enumerate(COLUMNS):  # every column says before the run that it is ready
        assert rows.nth(number).inner_text().split("\t")[1:] == [column, "ready"], rows.nth(number).inner_text()
    choose(page, "compare-y-axis", "weight")
    page.locator("#compare-y-values input").fill(", ".join(WEIGHTS))
    page.locator("#cmp-prompt textarea").fill("a lighthouse, ink")
    for elem_id, value in (("cmp-steps", 20), ("cmp-width", 128), ("cmp-height", 128), ("cmp-seed", 5)):
        set_number(page, elem_id, value)
    page.locator("#compare-button").click()

    # 12 cells make two UNet batches (8 + 4): the first batch's cells are shown while the last ones still run.
    try:
        page.wait_for_function("() => /Cell [1-9]\\d* of 12 done/.test(document.querySelector('#compare-status')?.innerText)"
                               " && !/Cell 12 of 12/.test(document.querySelector('#compare-status')?.innerText)",
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
    assert page.locator("#compare-gallery img").count() == 4 + 12
    page.locator("#compare-grid img").first.wait_for()
    page.screenshot(path=str(SHOTS / "matrix.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 768})  # the whole grid on the page, no scroll inside the gallery
    scroll = page.locator("#compare-gallery .grid-wrap").evaluate("el => [el.scrollHeight, el.clientHeight]")
    assert scroll[0] <= scroll[1] + 1, scroll
    page.locator("#compare-gallery").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "matrix-1366x768.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})

    downloads = page.locator("#compare-downloads tr")
    assert "".join(downloads.nth(0).locator(".filename").inner_text().split()) == "matrix-seed5.png"
    archive = downloads.filter(has_text="matrix-seed5-cells").locator("a").get_attribute("href")
    with zipfile.ZipFile(io.BytesIO(fetch(app.url, archive))) as zipped:
        cells = [name for name in zipped.namelist() if name.startswith("r")]
        assert len(cells) == 12
        for name in cells:
            text = Image.open(io.BytesIO(zipped.read(name))).info["parameters"]
            assert "Seed: 5" in text and "a lighthouse, ink" in text, name

    gallery = page.locator("#compare-gallery button.thumbnail-item")
    last = 4 + 2 * 4 + 3  # row weight = 1.5, column 4 (depth_zoe)
    gallery.nth(4).click()  # canny at weight 0.5
    gallery.nth(last).click()
    infotext = page.locator("#compare-infotext textarea")
    page.wait_for_function("() => document.querySelector('#compare-infotext textarea')?.value.includes('depth_zoe')")
    assert "Weight: 1.5" in infotext.input_value() and "Seed: 5" in infotext.input_value()
    assert page.locator("#compare-slider img").count() == 2  # the two clicked cells, one on each side
    page.screenshot(path=str(SHOTS / "matrix-cell.png"), full_page=True)

    page.locator("#compare-send").click()
    page.locator("#generate-button").wait_for()
    page.wait_for_function("() => document.querySelector('#generate-status')?.innerText.includes('restored')")
    assert shown(page, "unit0-module", "dropdown") == COLUMNS[3]
    assert shown(page, "unit0-family", "dropdown") == "Depth"
    assert shown(page, "unit0-weight", "number") == 1.5
    assert shown(page, "gen-seed", "number") == 5 and shown(page, "gen-steps", "number") == 20

    page.get_by_role("tab", name="History").click()  # the matrix's cells landed in History
    page.wait_for_function("() => document.querySelectorAll('#history-gallery img').length >= 12")


def test_stop_keeps_the_finished_cells(page, app, drawing_path):
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-image input[type=file]").set_input_files(drawing_path)
    set_columns(page, ["canny", "invert"])
    choose(page, "compare-y-axis", "seed")
    page.locator("#compare-y-values input").fill("1-5")
    for elem_id, value in (("cmp-steps", 60), ("cmp-width", 128), ("cmp-height", 128)):
        set_number(page, elem_id, value)
    page.locator("#compare-button").click()
    # 10 cells: a UNet batch of 8, then one of 2; Stop while the second one runs
    page.wait_for_function("() => /Cell 8 of 10 done/.test(document.querySelector('#compare-status')?.innerText)",
                           timeout=TIMEOUT_MS)
    page.locator("#compare-stop").click()
    page.wait_for_function("() => document.querySelector('#compare-status')?.innerText.startsWith('Stopped')")
    captions = page.locator("#compare-gallery").inner_text()
    page.screenshot(path=str(SHOTS / "matrix-stopped.png"), full_page=True)
    for seed in (1, 2, 3, 4):
        assert f"canny · seed = {seed} · seed {seed}" in captions and f"invert · seed = {seed} · seed {seed}" in captions
    assert captions.count("running…") == 2  # the two cells of the stopped batch
    assert page.locator("#compare-infotext textarea").input_value() == ""  # the last run's clicked cell went with it
    assert page.locator("#compare-downloads tr").count() == 0
