"""Engine vs a bare diffusers pipeline on the same components and work (target ratio <= 1.03): on `tiny`,
StableDiffusionControlNetPipeline; on `tiny-sdxl`, StableDiffusionXLControlNetUnionPipeline with the union model.

Also the condition matrix: compare() of 6 conditions vs 6 sequential bare pipeline calls (target <= 1.0).
Run: python -m bench.engine_overhead [--model tiny-sdxl] [--size 256 --steps 10 --rounds 7]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from diffusers import (
    EulerDiscreteScheduler,
    PNDMScheduler,
    StableDiffusionControlNetPipeline,
    StableDiffusionXLControlNetUnionPipeline,
)
from PIL import Image

from bench.common import interleaved, ratio_summary, summary, table, write
from pipelines.architectures import UNION_TYPES
from pipelines.engine import Engine
from pipelines.requests import ControlUnit, GenerationRequest
from pipelines.samplers import build_scheduler

MATRIX = ("canny", "lineart", "softedge", "openpose", "depth", "normal")


def control_map(size: int) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray((rng.random((size, size, 3)) > 0.8).astype(np.uint8) * 255)


def bare_pipeline(engine: Engine, condition: str):
    base = engine.base
    net = engine.controlnets.get(condition)[1]
    if base.text_encoder_2 is not None:
        pipe = StableDiffusionXLControlNetUnionPipeline(
            vae=base.vae, text_encoder=base.text_encoder, text_encoder_2=base.text_encoder_2, tokenizer=base.tokenizer,
            tokenizer_2=base.tokenizer_2, unet=base.unet, controlnet=net,
            scheduler=EulerDiscreteScheduler.from_config(base.scheduler_config))
    else:
        pipe = StableDiffusionControlNetPipeline(
            vae=base.vae, text_encoder=base.text_encoder, tokenizer=base.tokenizer, unet=base.unet, controlnet=net,
            scheduler=PNDMScheduler.from_config(base.scheduler_config), safety_checker=None, feature_extractor=None,
            requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def control_arguments(engine: Engine, condition: str, image: Image.Image) -> dict:
    """The map as each pipeline takes it: SDXL's union pipeline also wants the condition's control type."""
    if engine.base.text_encoder_2 is None:
        return {"image": image}
    return {"control_image": [image], "control_mode": [UNION_TYPES[condition]]}


def run(size: int, steps: int, rounds: int, model: str = "tiny") -> dict:
    engine = Engine.load(model, device="cpu")
    image = control_map(size)
    request = GenerationRequest(prompt="a house", negative_prompt="blurry", units=(ControlUnit(image=image, condition="canny"),),
                                steps=steps, sampler="Euler", seed=1, width=size, height=size)
    pipes = {condition: bare_pipeline(engine, condition) for condition in MATRIX}

    def bare(condition: str = "canny") -> None:
        pipe = pipes[condition]
        pipe.scheduler = build_scheduler("Euler", engine.base.scheduler_config)
        pipe(prompt="a house", negative_prompt="blurry", num_inference_steps=steps, width=size, height=size,
             generator=torch.Generator().manual_seed(1), **control_arguments(engine, condition, image))

    single = interleaved({"engine": lambda: engine.generate(request), "bare": bare}, rounds)
    units = [ControlUnit(image=image, condition=condition) for condition in MATRIX]
    matrix = interleaved({"compare": lambda: engine.compare(request, units),
                          "sequential": lambda: [bare(condition) for condition in MATRIX]}, max(3, rounds // 2))
    return {
        "settings": {"size": size, "steps": steps, "rounds": rounds, "model": model},
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
    parser.add_argument("--model", choices=("tiny", "tiny-sdxl"), default="tiny")
    args = parser.parse_args()
    result = run(args.size, args.steps, args.rounds, args.model)
    rows = [[name, result[key]["min"], result[key]["median"], result[key]["max"]]
            for name, key in (("engine / bare (1 unit)", "overhead_ratio"), ("compare(6) / 6 sequential bare", "matrix_ratio"))]
    print(table(rows, ["ratio", "min", "median", "max"]))
    write("engine_overhead" if args.model == "tiny" else f"engine_overhead_{args.model.replace('-', '_')}", result)
    return result


if __name__ == "__main__":
    main()
