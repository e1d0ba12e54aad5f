"""The map cache: a hit skips the detector; keys cover image and every parameter; both bounds hold."""

from __future__ import annotations

from unittest import mock

import numpy as np
from PIL import Image

from preprocessors import Preprocessors, detectors
from preprocessors.cache import MapCache


def test_cache_hit_does_not_run_the_detector(astronaut):
    runner = Preprocessors(offline=True)
    first = runner.run("canny", astronaut, 128)
    spy = mock.Mock(side_effect=AssertionError("detector ran on a cache hit"))
    with mock.patch.dict(detectors.ADAPTERS, {"canny": detectors.Adapter(detectors.ADAPTERS["canny"].load, spy)}):
        again = runner.run("canny", astronaut.copy(), 128)
    assert spy.call_count == 0
    assert np.array_equal(np.asarray(first), np.asarray(again))


def test_changed_parameters_or_pixels_miss_the_cache(astronaut):
    runner = Preprocessors(offline=True)
    base = runner.run("canny", astronaut, 128)
    assert len(runner.cache) == 1
    runner.run("canny", astronaut, 128, threshold_a=50)
    runner.run("canny", astronaut, 160)
    changed = astronaut.copy()
    changed.putpixel((0, 0), (0, 0, 0))
    runner.run("canny", changed, 128)
    assert len(runner.cache) == 4
    assert runner.run("canny", astronaut, 128, threshold_a=100, threshold_b=200).tobytes() == base.tobytes()  # defaults == explicit
    assert len(runner.cache) == 4


def test_cache_is_bounded_by_entries_and_bytes():
    by_count = MapCache(max_entries=2, max_bytes=10**9)
    for index in range(5):
        by_count.put(str(index), Image.new("RGB", (10, 10)))
    assert len(by_count) == 2 and by_count.get("4") is not None and by_count.get("0") is None
    by_bytes = MapCache(max_entries=100, max_bytes=3 * 300)
    for index in range(5):
        by_bytes.put(str(index), Image.new("RGB", (10, 10)))  # 300 bytes each
    assert len(by_bytes) == 3 and by_bytes.nbytes == 900


def test_a_hit_refreshes_recency():
    cache = MapCache(max_entries=2, max_bytes=10**9)
    cache.put("old", Image.new("RGB", (4, 4)))
    cache.put("new", Image.new("RGB", (4, 4)))
    assert cache.get("old") is not None  # now most recently used
    cache.put("newest", Image.new("RGB", (4, 4)))
    assert cache.get("new") is None and cache.get("old") is not None


def test_concurrent_puts_keep_both_bounds():
    from concurrent.futures import ThreadPoolExecutor

    cache = MapCache(max_entries=10, max_bytes=8 * 48)  # 48 bytes per 4x4 RGB map: the byte bound is the tighter
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda index: cache.put(str(index), Image.new("RGB", (4, 4), (index % 256, 0, 0))), range(400)))
    assert len(cache) == 8 and cache.nbytes == 8 * 48
