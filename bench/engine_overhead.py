"""Engine vs a bare StableDiffusionControlNetPipeline on the same components and work (target ratio <= 1.03).

Also the condition matrix: compare() of 6 conditions vs 6 sequential bare pipeline calls (target <= 1.0).
Run: python -m bench.engine_overhead [--size 256 --steps 10 --rounds 7]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from diffusers import PNDMScheduler, StableDiffusionControlNetPipeline
from PIL import Image

from bench.common import interleaved, ratio_summary, summary, table, write
from pipelines.engine import Engine
from pipelines.requests import ControlUnit, GenerationRequest
from pipelines.samplers import build_scheduler

MATRIX = ("canny", "lineart", "softedge", "openpose", "depth", "normal")


def control_map(size: int) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray((rng.random((size, size, 3)) > 0.8).astype(np.uint8) * 255)


def bare_pipeline(engine: Engine, condition: str) -> StableDiffusionControlNetPipeline:
    base = engine.base
    pipe = StableDiffusionControlNetPipeline(
        vae=base.vae, text_encoder=base.text_encoder, tokenizer=base.tokenizer, unet=base.unet,
        controlnet=engine.controlnets.get(condition)[1], scheduler=PNDMScheduler.from_config(base.scheduler_config),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def run(size: int, steps: int, rounds: int) -> dict:
    engine = Engine.load("tiny", device="cpu")
    image = control_map(size)
    request = GenerationRequest(prompt="a house", negative_prompt="blurry", units=(ControlUnit(image=image, condition="canny"),),
                                steps=steps, sampler="Euler", seed=1, width=size, height=size)
    pipes = {condition: bare_pipeline(engine, condition) for condition in MATRIX}

    def bare(condition: str = "canny") -> None:
        pipe = pipes[condition]
        pipe.scheduler = build_scheduler("Euler", engine.base.scheduler_config)
        pipe(prompt="a house", negative_prompt="blurry", image=image, num_inference_steps=steps, width=size, height=size,
             generator=torch.Generator().manual_seed(1))

    single = interleaved({"engine": lambda: engine.generate(request), "bare": bare}, rounds)
    units = [ControlUnit(image=image, condition=condition) for condition in MATRIX]
    matrix = interleaved({"compare": lambda: engine.compare(request, units),
                          "sequential": lambda: [bare(condition) for condition in MATRIX]}, max(3, rounds // 2))
    return {
        "settings": {"size": size, "steps": steps, "rounds": rounds, "model": "tiny"},
        "engine_s": summary(single["engine"]), "bare_s": summary(single["bare"]),
        "overhead_ratio": ratio_summary(single["engine"], single["bare"]),
        "compare_s": summary(matrix["compare"]), "sequential_s": summary(matrix["sequential"]),
        "matrix_ratio": ratio_summary(matrix["compare"], matrix["sequential"]),
    }


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    result = run(args.size, args.steps, args.rounds)
    rows = [[name, result[key]["min"], result[key]["median"], result[key]["max"]]
            for name, key in (("engine / bare (1 unit)", "overhead_ratio"), ("compare(6) / 6 sequential bare", "matrix_ratio"))]
    print(table(rows, ["ratio", "min", "median", "max"]))
    write("engine_overhead", result)
    return result


if __name__ == "__main__":
    main()
