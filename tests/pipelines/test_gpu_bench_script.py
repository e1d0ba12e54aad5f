"""The GPU benchmark cannot run here, so its exact code path runs on the tiny model (`--smoke`) to keep it honest."""

from __future__ import annotations

import os


def test_gpu_benchmark_runs_every_section_on_the_tiny_model(monkeypatch):
    for name in ("HF_HUB_CACHE", "HF_HUB_OFFLINE"):  # importing bench points these at its own cache; undo it afterwards
        monkeypatch.setenv(name, os.environ[name])
    from bench.gpu import run

    result = run(steps=1, rounds=1, use_compile=False, size=64, smoke=True)
    assert result["settings"]["smoke"] is True
    sections = {"sdpa", "batch4", "vram_gib", "matrix", "options", "cpu_offload", "achieved"}
    assert sections <= result.keys()
    assert result["matrix"]["compare_s"]["n"] == 2 and result["cpu_offload"]["seconds"]["n"] == 1
    assert result["achieved"]["it_per_s"] == 1 / result["achieved"]["seconds_per_image"]
