"""XY matrix: 6 conditions x 3 control weights via Engine.matrix vs 18 sequential bare pipeline calls (target ratio <= 0.9).

Columns are the six conditions, each one ControlUnit on the same fixed synthetic map; rows are the control weight
(0.5, 0.75, 1.0); prompt, seed, steps, Euler sampler and size are fixed, so the 18 cells share UNet batches. The other
side is 18 bare `StableDiffusionControlNetPipeline` calls on the same modules (the engine's UNet, VAE and text encoder,
each condition's tiny ControlNet), `controlnet_conditioning_scale` = the row's weight. Nothing is written to disk
except the JSON result.
Run: python -m bench.xy_matrix [--size 256 --steps 10 --rounds 5]
"""

from __future__ import annotations

import argparse

import torch

from bench.common import interleaved, ratio_summary, summary, table, write
from bench.engine_overhead import MATRIX, bare_pipeline, control_map
from pipelines.engine import Engine
from pipelines.requests import ControlUnit, GenerationRequest
from pipelines.samplers import build_scheduler

WEIGHTS = (0.5, 0.75, 1.0)
PROMPT, NEGATIVE, SEED, CFG = "a house", "blurry", 1, 7.0


def cells(image, size: int, steps: int) -> list[GenerationRequest]:
    """One request per (weight, condition) cell, row by row: only the unit differs between cells."""
    return [GenerationRequest(prompt=PROMPT, negative_prompt=NEGATIVE, units=(ControlUnit(image=image, condition=condition, weight=weight),),
                              steps=steps, sampler="Euler", cfg_scale=CFG, seed=SEED, width=size, height=size)
            for weight in WEIGHTS for condition in MATRIX]


def run(size: int, steps: int, rounds: int) -> dict:
    engine = Engine.load("tiny", device="cpu")
    image = control_map(size)
    requests = cells(image, size, steps)
    pipes = {condition: bare_pipeline(engine, condition) for condition in MATRIX}

    def sequential() -> None:
        for request in requests:
            unit = request.units[0]
            pipe = pipes[unit.condition]
            pipe.scheduler = build_scheduler("Euler", engine.base.scheduler_config)  # fresh, as the engine builds one per batch
            pipe(prompt=PROMPT, negative_prompt=NEGATIVE, image=image, num_inference_steps=steps, guidance_scale=CFG,
                 controlnet_conditioning_scale=unit.weight, width=size, height=size, generator=torch.Generator().manual_seed(SEED))

    def matrix() -> None:
        results = engine.matrix(requests, save=False)
        assert len(results) == len(requests)

    times = interleaved({"matrix": matrix, "sequential": sequential}, rounds)
    return {
        "settings": {"size": size, "steps": steps, "rounds": rounds, "model": "tiny", "sampler": "Euler", "cells": len(requests),
                     "conditions": list(MATRIX), "weights": list(WEIGHTS), "matrix_batch": engine.matrix_batch},
        "matrix_s": summary(times["matrix"]), "sequential_s": summary(times["sequential"]),
        "ratio": ratio_summary(times["matrix"], times["sequential"]),
        "rounds_s": {"matrix": times["matrix"], "sequential": times["sequential"]},
    }


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    result = run(args.size, args.steps, args.rounds)
    rows = [[name, result[key]["min"], result[key]["median"], result[key]["max"]]
            for name, key in (("matrix(6 x 3) s", "matrix_s"), ("18 sequential bare s", "sequential_s"), ("ratio matrix / sequential", "ratio"))]
    print(table(rows, ["what", "min", "median", "max"]))
    write("xy_matrix", result)
    return result


if __name__ == "__main__":
    main()
