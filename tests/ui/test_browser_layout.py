"""Generate at a laptop's 1366x768 and a phone's 390x844, before and after a generation (screenshots kept): on the
phone the first result is near the Generate button, and no label anywhere on the tab wraps inside a word."""

from __future__ import annotations

import pytest

from tests.ui.browser import CHROMIUM, FLAGS, SHOTS, TIMEOUT_MS, set_number, wait_map

pytestmark = pytest.mark.browser

WORDS_BROKEN_ACROSS_LINES = """() => {
  const broken = [];
  for (const node of document.querySelectorAll('label, [data-testid="block-info"], button, .label-wrap span')) {
    if (!node.offsetParent) continue;  // hidden (another tab, a closed accordion)
    const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
    for (let text = walker.nextNode(); text; text = walker.nextNode()) {
      for (const word of text.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(text, word.index);
        range.setEnd(text, word.index + word[0].length);
        const lines = new Set(Array.from(range.getClientRects()).filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (lines.size > 1) broken.push(word[0]);
      }
    }
  }
  return broken;
}"""

PAGE_TOP = "(selector) => { const r = document.querySelector(selector).getBoundingClientRect(); return r.top + window.scrollY; }"


@pytest.mark.parametrize("width, height", [(1366, 768), (390, 844)])
def test_generate_fits_the_screen_and_no_label_breaks_a_word(app, drawing_path, width, height):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(app.url)
        page.locator("#generate-button").wait_for()
        page.screenshot(path=str(SHOTS / f"generate-{width}x{height}-before.png"), full_page=True)
        before = page.evaluate(WORDS_BROKEN_ACROSS_LINES)
        upload_top = page.evaluate(PAGE_TOP, "#unit0-image")

        page.locator("#unit0-image input[type=file]").set_input_files(drawing_path)
        wait_map(page, 0)
        page.locator("#gen-prompt textarea").fill("a cabin")
        for elem_id, value in (("gen-steps", 2), ("gen-width", 64), ("gen-height", 64), ("gen-seed", 1)):
            set_number(page, elem_id, value)
        page.locator("#generate-button").click()
        page.wait_for_function("() => document.querySelector('#generate-status')?.innerText.startsWith('Done')")
        page.screenshot(path=str(SHOTS / f"generate-{width}x{height}-after.png"), full_page=True)
        after = page.evaluate(WORDS_BROKEN_ACROSS_LINES)
        button = page.evaluate(PAGE_TOP, "#generate-button")
        result = page.evaluate(PAGE_TOP, "#results-gallery img")
        browser.close()

    print(f"{width}x{height}: upload at {upload_top:.0f} px, Generate at {button:.0f} px, first result at {result:.0f} px")
    assert before == [] and after == [], f"words broken across lines: {sorted(set(before + after))}"
    if width < 768:
        assert abs(result - button) <= 1.5 * height
    else:
        assert upload_top < height  # the control image's upload is on the first screen
