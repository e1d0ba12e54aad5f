"""The weight-free scribble and shuffle maps on real photographs (scikit-image's): XDoG gives thick strokes where the
photo has edges; shuffle keeps the colours, destroys the structure, and repeats by seed."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from preprocessors import Preprocessors


@pytest.fixture(scope="module")
def runner() -> Preprocessors:
    return Preprocessors()


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((256, 256))


def _runs(row: np.ndarray) -> list[int]:
    """Lengths of the runs of white pixels in one row."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], row > 0, [0]]).astype(int)))
    return list(edges[1::2] - edges[::2])


def test_xdog_scribble_draws_thick_strokes_where_the_photo_has_edges(runner, photo):
    from scipy import ndimage

    strokes = np.asarray(runner.run("scribble_xdog", photo, processor_res=256).convert("L")) > 0
    edges = np.asarray(runner.run("canny", photo, processor_res=256).convert("L")) > 0
    assert 0.02 < strokes.mean() < 0.5  # strokes, not a blank or a flood
    near_edges = ndimage.binary_dilation(edges, iterations=4)
    assert (strokes & near_edges).sum() / strokes.sum() > 0.8  # where the photo has edges
    stroke_widths = [length for row in strokes for length in _runs(row)]
    edge_widths = [length for row in edges for length in _runs(row)]
    assert np.median(stroke_widths) >= 2 * np.median(edge_widths)  # thick, as scribbles are


def test_a_higher_xdog_threshold_keeps_fewer_strokes(runner, photo):
    few = np.asarray(runner.run("scribble_xdog", photo, processor_res=256, threshold_a=60).convert("L")) > 0
    many = np.asarray(runner.run("scribble_xdog", photo, processor_res=256, threshold_a=8).convert("L")) > 0
    assert few.sum() < many.sum() / 2


def test_shuffle_keeps_the_colours_and_destroys_the_structure(runner, photo):
    from skimage import data

    shuffled = np.asarray(runner.run("shuffle", photo, processor_res=256, threshold_a=5))
    original = np.asarray(photo)
    other_photo = np.asarray(Image.fromarray(data.coffee()).resize((256, 256)))
    # colour histograms (8 levels per channel): the shuffle's is close to the photo's, much closer than another photo's
    assert _histogram_distance(shuffled, original) < _histogram_distance(other_photo, original) / 2
    assert _histogram_distance(shuffled, original) < 0.35
    grey_shuffled, grey_original = shuffled.mean(axis=2).ravel(), original.mean(axis=2).ravel()
    assert abs(np.corrcoef(grey_shuffled, grey_original)[0, 1]) < 0.3  # pixel for pixel, nothing lines up


def _histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total variation between two pictures' joint colour histograms (8 levels per channel): 0 same, 1 disjoint."""
    def histogram(pixels: np.ndarray) -> np.ndarray:
        codes = (pixels // 32).reshape(-1, 3).astype(int) @ np.array([64, 8, 1])
        return np.bincount(codes, minlength=512) / len(codes)

    return float(np.abs(histogram(a) - histogram(b)).sum() / 2)


def test_the_same_seed_gives_the_same_shuffle_and_another_seed_another(runner, photo):
    first = np.asarray(runner.run("shuffle", photo, processor_res=256, threshold_a=11))  # a fresh runner below: no cache
    again = np.asarray(Preprocessors().run("shuffle", photo, processor_res=256, threshold_a=11))
    other = np.asarray(runner.run("shuffle", photo, processor_res=256, threshold_a=12))
    assert np.array_equal(first, again)
    assert np.abs(first.astype(int) - other.astype(int)).mean() > 10
