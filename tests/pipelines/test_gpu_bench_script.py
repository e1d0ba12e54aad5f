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


def test_sdxl_gpu_benchmark_runs_on_tiny_sdxl_and_counts_its_flops(monkeypatch):
    for name in ("HF_HUB_CACHE", "HF_HUB_OFFLINE"):
        monkeypatch.setenv(name, os.environ[name])
    from bench.gpu_sdxl import run

    result = run(steps=3, rounds=1, size=64, smoke=True)
    flops = result["tflop"]
    assert flops["per_step"] > 0 and flops["fixed"] > 0  # the UNet + union per step; text encoders and VAE once
    assert abs(flops["per_image"] - (flops["fixed"] + 3 * flops["per_step"])) < 1e-9
    assert result["achieved"]["it_per_s"] == 3 / result["engine_s"]["median"]
    assert result["overhead_ratio"]["n"] == 1
