"""The Generate tab's results as an A1111 user reads them: every unit's map, each image's own infotext, batch count,
a ControlNet picked from a dropdown, and a clear stopped state."""

from __future__ import annotations

import pytest

from tests.ui.browser import SHOTS, TIMEOUT_MS, choose, set_number, tick, wait_map

pytestmark = pytest.mark.browser

DONE = "() => document.querySelector('#generate-status')?.innerText.startsWith('Done')"


def _settings(page, **values) -> None:
    page.locator("#gen-prompt textarea").fill("a lighthouse at dusk")
    for elem_id, value in values.items():
        set_number(page, elem_id.replace("_", "-"), value)


def _generate(page) -> None:
    page.locator("#generate-button").click()
    page.wait_for_function(DONE, timeout=TIMEOUT_MS)


def _captions(page, elem_id: str) -> list[str]:
    return page.locator(f"#{elem_id} .caption-label").all_inner_texts()


def _infotext(page) -> str:
    return page.locator("#infotext textarea").input_value()


def test_two_units_show_both_maps_and_selecting_image_two_shows_its_seed(page, drawing_path):
    page.locator("#unit0-image input[type=file]").set_input_files(drawing_path)
    wait_map(page, 0)
    page.get_by_text("ControlNet unit 1", exact=True).click()  # open its accordion
    tick(page, "unit1-enabled")
    page.locator("#unit1-image input[type=file]").set_input_files(drawing_path)
    choose(page, "unit1-family", "Line_Art")
    choose(page, "unit1-module", "lineart_standard")
    wait_map(page, 1, "lineart_standard")
    _settings(page, gen_steps=2, gen_width=64, gen_height=64, gen_batch=2, gen_seed=5)
    _generate(page)

    assert page.locator("#used-maps img").count() == 2
    assert _captions(page, "used-maps") == ["unit 0 · canny", "unit 1 · lineart_standard"]
    assert "Seed: 5," in _infotext(page)
    page.locator("#results-gallery img").nth(1).click()
    page.wait_for_function("() => document.querySelector('#infotext textarea').value.includes('Seed: 6,')", timeout=TIMEOUT_MS)
    page.screenshot(path=str(SHOTS / "generate-two-units.png"), full_page=True)
    page.keyboard.press("Escape")  # leave the gallery's preview mode
    tick(page, "unit1-enabled", False)


def test_batch_count_two_of_batch_size_two_gives_four_consecutive_seeds(page, drawing_path):
    page.locator("#unit0-image input[type=file]").set_input_files(drawing_path)
    _settings(page, gen_steps=2, gen_width=64, gen_height=64, gen_batch=2, gen_batch_count=2, gen_seed=10)
    _generate(page)
    assert page.locator("#results-gallery img").count() == 4
    assert _captions(page, "results-gallery") == ["seed 10", "seed 11", "seed 12", "seed 13"]
    assert "2 of 2 batches, 4 images" in page.locator("#generate-status").inner_text()
    set_number(page, "gen-batch-count", 1)


def test_the_controlnet_dropdown_lists_this_servers_models_and_the_choice_is_used(page, ui_models_dir, drawing_path):
    page.locator("#unit0-image input[type=file]").set_input_files(drawing_path)
    page.locator("#unit0-model input").click()
    options = page.get_by_role("option").all_inner_texts()
    mine = str(ui_models_dir / "my-canny")
    assert "lllyasviel/control_v11p_sd15_canny" in options and mine in options
    page.get_by_role("option", name=mine, exact=True).click()
    _settings(page, gen_steps=2, gen_width=64, gen_height=64, gen_batch=1, gen_seed=3)
    _generate(page)
    assert f"Model: {mine}," in _infotext(page), _infotext(page)
    choose(page, "unit0-model", "")


def test_stop_says_stopped_and_leaves_no_preview_map_or_infotext_behind(page, drawing_path):
    page.locator("#unit0-image input[type=file]").set_input_files(drawing_path)
    _settings(page, gen_steps=2, gen_width=64, gen_height=64, gen_batch=1, gen_seed=1)
    _generate(page)  # an earlier run whose infotext and map must not stay under the stopped one
    assert _infotext(page) and page.locator("#used-maps img").count() == 1
    _settings(page, gen_steps=150, gen_width=256, gen_height=256, gen_batch=1, gen_seed=2)
    page.locator("#generate-button").click()
    page.wait_for_function("() => /Step \\d+\\/150 \\(preview\\)/.test(document.querySelector('#generate-status')?.innerText)",
                           timeout=TIMEOUT_MS)
    page.locator("#generate-stop").click()
    page.wait_for_function("() => document.querySelector('#generate-status')?.innerText.startsWith('Stopped')",
                           timeout=TIMEOUT_MS)
    status = page.locator("#generate-status").inner_text()
    page.screenshot(path=str(SHOTS / "generate-stopped.png"), full_page=True)
    assert "/150" in status and "Press Generate" in status, status
    assert page.locator("#results-gallery img").count() == 0  # no noise preview left as if it were a result
    assert page.locator("#used-maps img").count() == 0 and _infotext(page) == ""
