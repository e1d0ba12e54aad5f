"""Weight-free preprocessors on real photographs: edges where the photo has edges, monotone thresholds."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from preprocessors import Preprocessors


@pytest.fixture(scope="module")
def plain() -> Preprocessors:
    return Preprocessors(offline=True, cache_entries=0)


def edge_fraction(image: Image.Image) -> float:
    return float((np.asarray(image.convert("L")) > 127).mean())


def _gradient_magnitude(image: Image.Image) -> np.ndarray:
    grey = np.asarray(image.convert("L"), dtype=float)
    return np.hypot(ndimage.sobel(grey, 0), ndimage.sobel(grey, 1))


@pytest.mark.parametrize("name", ["canny", "lineart_standard"])
def test_edges_sit_where_the_photo_changes(plain, camera, name):
    result = np.asarray(plain.run(name, camera, processor_res=256).convert("L")) > 127
    gradient = _gradient_magnitude(camera)
    strong, flat = gradient > np.percentile(gradient, 80), gradient < np.percentile(gradient, 30)
    assert result[strong].mean() > 5 * max(result[flat].mean(), 1e-3)
    assert 0.01 < result.mean() < 0.5


def test_raising_canny_thresholds_never_adds_edges(plain, astronaut):
    pairs = [(20, 60), (50, 100), (100, 200), (150, 250), (200, 255)]
    maps = [np.asarray(plain.run("canny", astronaut, 256, low, high).convert("L")) > 127 for low, high in pairs]
    for looser, stricter in zip(maps, maps[1:]):
        assert not (stricter & ~looser).any()  # every edge of the stricter map is an edge of the looser one
    assert maps[0].sum() > maps[-1].sum() > 0


def test_invert_twice_is_the_identity(plain, astronaut):
    once = plain.run("invert", astronaut, 256)
    assert np.array_equal(np.asarray(plain.run("invert", once, 256)), np.asarray(astronaut))
    assert np.array_equal(np.asarray(once), 255 - np.asarray(astronaut))


def test_map_keeps_aspect_with_short_side_at_processor_res(plain):
    wide = Image.new("RGB", (300, 200), "white")
    assert plain.run("canny", wide, 128).size == (192, 128)
    tall = wide.rotate(90, expand=True)
    assert plain.run("none", tall, 100).size == (200, 300)  # a ready map stays as the artist made it (A1111's none)
    assert np.array_equal(np.asarray(plain.run("none", tall, 100)), np.asarray(tall))
    assert np.array_equal(np.asarray(plain.run("ip2p", tall, 100)), np.asarray(tall))  # instruct-pix2pix reads the picture
    assert edge_fraction(plain.run("canny", wide, 128)) == 0.0  # a flat image has no edges
