"""The Compare tab runs the newer conditions side by side in Chromium: scribble, MLSD, shuffle, segmentation, DWPose
and instruct-pix2pix columns, each with its map on top and its cell under it."""

from __future__ import annotations

import pytest

from tests.ui.browser import SHOTS, TIMEOUT_MS, set_columns, set_number

pytestmark = pytest.mark.browser
COLUMNS = ["scribble_xdog", "mlsd", "shuffle", "seg_ufade20k", "dw_openpose_full", "ip2p"]


def test_a_matrix_with_scribble_mlsd_shuffle_seg_dwpose_and_ip2p_columns(page, drawing_path):
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-image input[type=file]").set_input_files(drawing_path)
    set_columns(page, COLUMNS)
    page.wait_for_function(f"() => document.querySelectorAll('#compare-readiness tbody tr').length === {len(COLUMNS)}")
    readiness = page.locator("#compare-readiness").inner_text()
    assert readiness.count("ready") == len(COLUMNS), readiness
    page.locator("#cmp-prompt textarea").fill("a street of old houses")
    for elem_id, value in (("cmp-steps", 2), ("cmp-width", 64), ("cmp-height", 64), ("cmp-seed", 4)):
        set_number(page, elem_id, value)
    page.locator("#compare-button").click()
    try:
        page.wait_for_function("() => document.querySelector('#compare-status')?.innerText.startsWith('Done')",
                               timeout=TIMEOUT_MS)
    except Exception:
        page.screenshot(path=str(SHOTS / "zoo-matrix-failed.png"), full_page=True)
        raise AssertionError(f"the matrix did not finish; status: {page.locator('#compare-status').inner_text()!r}") from None
    captions = page.locator("#compare-gallery").inner_text()
    for column in COLUMNS:
        assert f"{column} · map" in captions and f"{column} · seed 4" in captions, captions
    assert page.locator("#compare-gallery img").count() == 2 * len(COLUMNS)
    page.locator("#compare-gallery").screenshot(path=str(SHOTS / "zoo-matrix.png"))
    page.get_by_role("tab", name="Generate").click()
