"""Resident memory over 50 generations switching conditions and samplers (target growth <= 5 % after warm-up).

Run: python -m bench.memory [--generations 50]
"""

from __future__ import annotations

import argparse
import gc

import numpy as np
import psutil
from PIL import Image

from bench.common import table, write
from pipelines.architectures import CONDITIONS
from pipelines.engine import Engine
from pipelines.requests import ControlUnit, GenerationRequest
from pipelines.samplers import SAMPLER_NAMES

WARMUP = 10


def run(generations: int, size: int = 128) -> dict:
    engine = Engine.load("tiny", device="cpu")
    image = Image.fromarray((np.random.default_rng(0).random((size, size, 3)) * 255).astype(np.uint8))
    samplers = [name for name in SAMPLER_NAMES if name != "LCM"]
    process = psutil.Process()
    rss_mb = []
    for index in range(generations):
        condition = CONDITIONS[index % len(CONDITIONS)]
        request = GenerationRequest(prompt=f"test {index}", units=(ControlUnit(image=image, condition=condition),), steps=4,
                                    sampler=samplers[index % len(samplers)], seed=index, width=size, height=size)
        engine.generate(request)
        gc.collect()
        rss_mb.append(process.memory_info().rss / 2**20)
    after_warmup = rss_mb[WARMUP - 1]
    growth = (rss_mb[-1] - after_warmup) / after_warmup
    return {"rss_mb": rss_mb, "after_warmup_mb": after_warmup, "final_mb": rss_mb[-1], "growth_fraction": growth,
            "generations": generations, "warmup": WARMUP}


def plot(result: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3))
    axis.plot(range(1, len(result["rss_mb"]) + 1), result["rss_mb"], marker=".")
    axis.axvline(result["warmup"], color="grey", linestyle="--", label="end of warm-up")
    axis.set_xlabel("generation (conditions and samplers rotating)")
    axis.set_ylabel("resident memory (MiB)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generations", type=int, default=50)
    result = run(parser.parse_args().generations)
    print(table([[result["after_warmup_mb"], result["final_mb"], f"{result['growth_fraction'] * 100:.2f} %"]],
                ["RSS after warm-up (MiB)", "RSS after 50 (MiB)", "growth"]))
    write("memory", result)
    from pathlib import Path

    plot(result, Path(__file__).resolve().parents[1] / "docs" / "bench" / "memory.png")
    return result


if __name__ == "__main__":
    main()
