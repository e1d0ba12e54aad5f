"""Compare from an img2img picture, in Debian Chromium: with no control image the columns read the picture (A1111's
units without an image do the same), and a denoising-strength row axis varies how much of it stays."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.ui.browser import SHOTS, TIMEOUT_MS, choose, download, set_columns, set_number, wait_drawn

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 128, 96


@pytest.fixture(scope="module")
def picture_path(tmp_path_factory) -> str:
    """A dark picture with a bright square: its tile map must show the square where the picture has it."""
    pixels = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    pixels[..., 2] = 60
    pixels[24:72, 40:88] = (230, 200, 40)
    path = tmp_path_factory.mktemp("compare-img2img") / "picture.png"
    Image.fromarray(pixels).save(path)
    return str(path)


def _image(page, index: int) -> np.ndarray:
    src = page.locator("#compare-gallery img").nth(index).get_attribute("src")
    return np.asarray(download(page.url, src).convert("RGB"), dtype=np.int16)


def test_a_matrix_from_the_img2img_picture_with_a_denoising_strength_axis(page, picture_path):
    page.get_by_role("tab", name="Compare").click()
    page.locator("#cmp-img2img-panel").get_by_text("img2img / inpaint").first.click()
    page.locator("#cmp-img2img-editor .pixi-target canvas").first.wait_for(state="visible")  # takes files once drawn
    page.locator("#cmp-img2img-editor input[type=file]").set_input_files(picture_path)
    wait_drawn(page, "#cmp-img2img-editor", 90, 2000)
    assert page.locator("#compare-image img").count() == 0  # no control image: the columns take the picture
    set_columns(page, ["tile_resample"])
    choose(page, "compare-y-axis", "denoising_strength")
    page.locator("#compare-y-values input").fill("0.3, 1")
    page.locator("#cmp-prompt textarea").fill("a golden box on a blue table")
    for elem_id, value in (("cmp-steps", 3), ("cmp-width", WIDTH), ("cmp-height", HEIGHT), ("cmp-seed", 5)):
        set_number(page, elem_id, value)
    page.locator("#compare-button").click()
    page.wait_for_function("() => document.querySelector('#compare-status')?.innerText.startsWith('Done')", timeout=TIMEOUT_MS)

    assert page.locator("#compare-gallery img").count() == 3  # the map, then one cell per strength
    page.locator("#compare-gallery").screenshot(path=str(SHOTS / "compare-img2img.png"))
    tile_map = Image.fromarray(_image(page, 0).astype(np.uint8)).resize((WIDTH, HEIGHT))
    picture = np.asarray(Image.open(picture_path).convert("RGB"), dtype=np.int16)
    assert np.abs(np.asarray(tile_map, dtype=np.int16) - picture).mean() < 12, "the tile map is not the img2img picture"
    low, full = _image(page, 1), _image(page, 2)
    assert low.shape == full.shape == (HEIGHT, WIDTH, 3) and np.abs(low - full).mean() > 1  # the strength changed the cell
    page.locator("#compare-gallery button.thumbnail-item").nth(1).click()
    page.wait_for_function("() => document.querySelector('#compare-infotext textarea')?.value.includes('Steps: ')")
    infotext = page.locator("#compare-infotext textarea").input_value()
    assert "Denoising strength: 0.3" in infotext and "Module: tile_resample" in infotext, infotext

    page.locator("#cmp-img2img-to-unit").click()  # the picture as the control image, as Generate's panel offers
    page.locator("#compare-image img").wait_for()
    shown = download(page.url, page.locator("#compare-image img").first.get_attribute("src")).convert("RGB")
    assert np.array_equal(np.asarray(shown, dtype=np.int16), picture)
