"""GPU benchmark: full-size SD1.5 + ControlNet architectures (configs in bench/configs, random weights, no download).

512x512, 20 steps, fp16: the engine vs a bare diffusers pipeline at batch 1 and batch 4, the 6-condition matrix
batched vs sequential, each speed option on and off (plain attention, SDPA, channels_last, torch.compile of the
UNet and ControlNets), VRAM with 1 and 6 ControlNets resident, and peak VRAM with --cpu-offload.
Random weights cost the same FLOPs as trained ones.
Run on a CUDA machine: python -m bench.gpu [--steps 20 --rounds 5 --compile]; add --sdxl for SDXL + union ProMax.
`--smoke` runs the same script on the CPU with the tiny model (proves it runs; its numbers mean nothing).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import torch

from bench.common import interleaved, ratio_summary, summary, table, timed, write
from bench.engine_overhead import MATRIX, control_map
from pipelines.controlnets import ControlNetStore
from pipelines.engine import Engine
from pipelines.loading import BaseModel, load_base
from pipelines.offload import ModelOffload
from pipelines.requests import ControlUnit, GenerationRequest
from pipelines.samplers import build_scheduler
from pipelines.speed import compile_module, warm_up
from pipelines.tiny import SD15_SCHEDULER_CONFIG, build_tokenizer

CONFIGS = Path(__file__).resolve().parent / "configs"
TFLOP_PER_IMAGE = 47.5  # UNet 0.8 + ControlNet ~0.28 TFLOP per forward, x2 for CFG, x20 steps, + VAE decode 2.5
H100_FLOOR_S = 0.048  # 47.5 TFLOP at ~990 dense fp16 TFLOP/s


def _config(name: str) -> dict:
    return {k: v for k, v in json.loads((CONFIGS / name).read_text()).items() if not k.startswith("_") and k != "architectures"}


def build_full_size(device: torch.device, dtype: torch.dtype, conditions: tuple[str, ...]) -> tuple[BaseModel, dict]:
    from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    with torch.device(device):
        unet = UNet2DConditionModel(**_config("sd15_unet.json")).to(dtype).eval()
        vae = AutoencoderKL(**_config("sd15_vae.json")).to(dtype).eval()
        text = CLIPTextModel(CLIPTextConfig(**_config("sd15_text_encoder.json"))).to(dtype).eval()
        nets = {c: ControlNetModel(**_config("sd15_controlnet.json")).to(dtype).eval() for c in conditions}
    base = BaseModel("sd15-random", unet, vae, text, build_tokenizer(), dict(SD15_SCHEDULER_CONFIG), device, dtype)
    return base, nets


def build_tiny_size(device: torch.device, dtype: torch.dtype, conditions: tuple[str, ...]) -> tuple[BaseModel, dict]:
    """The smoke run's stand-in: the same code path on the tiny architectures."""
    from pipelines.tiny import build_controlnet

    return load_base("tiny", device, dtype), {c: build_controlnet(c).eval() for c in conditions}


def vram_gib(peak: bool = False) -> float:
    if not torch.cuda.is_available():
        return 0.0
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() if peak else torch.cuda.memory_allocated()) / 2**30


def reset_peak() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def sync(fn):
    def wrapped():
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
    return wrapped


def run(steps: int, rounds: int, use_compile: bool, size: int = 512, smoke: bool = False) -> dict:
    from diffusers import StableDiffusionControlNetPipeline
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

    device, dtype = (torch.device("cpu"), torch.float32) if smoke else (torch.device("cuda"), torch.float16)
    build = build_tiny_size if smoke else build_full_size
    base, nets = build(device, dtype, MATRIX[:1])
    vram_one = vram_gib()
    engine = Engine(base, ControlNetStore(lambda model_id, condition: nets[condition], capacity=7))
    image = control_map(size)
    request = GenerationRequest(prompt="a house", units=(ControlUnit(image=image, condition="canny"),), steps=steps,
                                sampler="Euler", seed=1, width=size, height=size)
    batched = replace(request, batch_size=4)
    pipe = StableDiffusionControlNetPipeline(vae=base.vae, text_encoder=base.text_encoder, tokenizer=base.tokenizer,
                                             unet=base.unet, controlnet=nets["canny"], scheduler=build_scheduler("Euler", base.scheduler_config),
                                             safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)

    def bare(batch: int = 1) -> None:
        pipe.scheduler = build_scheduler("Euler", base.scheduler_config)
        pipe(prompt="a house", image=image, num_inference_steps=steps, width=size, height=size, num_images_per_prompt=batch,
             generator=torch.Generator().manual_seed(1))

    results: dict = {"settings": {"steps": steps, "rounds": rounds, "size": size, "dtype": str(dtype), "smoke": smoke}}
    reset_peak()
    times = interleaved({"engine": sync(lambda: engine.generate(request)), "bare": sync(bare)}, rounds)
    peak_one = vram_gib(peak=True)
    results["sdpa"] = {"engine_s": summary(times["engine"]), "bare_s": summary(times["bare"]),
                       "overhead_ratio": ratio_summary(times["engine"], times["bare"])}
    four = interleaved({"engine": sync(lambda: engine.generate(batched)), "bare": sync(lambda: bare(4))}, max(2, rounds // 2))
    results["batch4"] = {"engine_s_per_image": summary([t / 4 for t in four["engine"]]),
                         "bare_s_per_image": summary([t / 4 for t in four["bare"]]),
                         "overhead_ratio": ratio_summary(four["engine"], four["bare"])}
    nets.update(build(device, dtype, MATRIX[1:])[1])  # 6 ControlNets resident
    results["vram_gib"] = {"one_controlnet": vram_one, "six_controlnets": vram_gib(), "peak_one_unit_job": peak_one}
    units = [ControlUnit(image=image, condition=c) for c in MATRIX]
    matrix = interleaved({"compare": sync(lambda: engine.compare(request, units)),
                          "sequential": sync(lambda: [engine.generate(replace(request, units=(u,))) for u in units])},
                         max(2, rounds // 2))
    results["matrix"] = {"compare_s": summary(matrix["compare"]), "sequential_s": summary(matrix["sequential"]),
                         "speedup": 1 / ratio_summary(matrix["compare"], matrix["sequential"])["median"]}
    base.unet.set_attn_processor(AttnProcessor())
    plain = [timed(sync(lambda: engine.generate(request))) for _ in range(rounds)]
    base.unet.set_attn_processor(AttnProcessor2_0())
    for module in (base.unet, *nets.values()):
        module.to(memory_format=torch.channels_last)
    channels_last = [timed(sync(lambda: engine.generate(request))) for _ in range(rounds)]
    results["options"] = {"plain_attention_s": summary(plain), "sdpa_channels_last_s": summary(channels_last)}
    if use_compile:
        unet, canny = base.unet, nets["canny"]
        base.unet, nets["canny"] = compile_module(unet), compile_module(canny)
        results["options"]["compile_warm_up_s"] = warm_up(engine, size=size, steps=2)
        results["options"]["compiled_s"] = summary([timed(sync(lambda: engine.generate(request))) for _ in range(rounds)])
        base.unet, nets["canny"] = unet, canny
    results["cpu_offload"] = offload_run(base, nets, request, rounds)
    best = min(results["sdpa"]["engine_s"]["median"], results["options"]["sdpa_channels_last_s"]["median"],
               results["options"].get("compiled_s", {"median": 1e9})["median"])
    results["achieved"] = {"seconds_per_image": best, "it_per_s": steps / best, "tflops": TFLOP_PER_IMAGE / best,
                           "fraction_of_h100_floor": H100_FLOOR_S / best}
    return results


def offload_run(base: BaseModel, nets: dict, request: GenerationRequest, rounds: int) -> dict:
    """--cpu-offload: every module waits in RAM and visits the GPU only while it runs; peak VRAM and time per image."""
    for net in nets.values():
        net.to("cpu")
    offload = ModelOffload(base.device)
    offload.attach_base(base)
    engine = Engine(base, ControlNetStore(lambda model_id, condition: offload.attach(nets[condition])), offload=offload)
    engine.generate(request)  # first job pays the first transfer
    reset_peak()
    times = [timed(sync(lambda: engine.generate(request))) for _ in range(rounds)]
    return {"seconds": summary(times), "peak_vram_gib": vram_gib(peak=True), "resident_between_jobs_gib": vram_gib()}


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="run on the CPU with the tiny model (numbers mean nothing)")
    parser.add_argument("--sdxl", action="store_true", help="SDXL + ControlNet Union ProMax at 1024² (bench/gpu_sdxl.py)")
    args = parser.parse_args()
    if not args.smoke and not torch.cuda.is_available():
        raise SystemExit("bench.gpu needs a CUDA GPU; on CPU run python -m bench.all (or bench.gpu --smoke to check the script)")
    if args.sdxl:
        from bench.gpu_sdxl import report

        return report(args.steps, args.rounds, args.smoke)
    size = 64 if args.smoke else 512
    result = run(args.steps, args.rounds, args.compile, size=size, smoke=args.smoke)
    rows = [["engine (SDPA)", result["sdpa"]["engine_s"]["median"]], ["bare diffusers (SDPA)", result["sdpa"]["bare_s"]["median"]],
            ["engine, batch 4 (per image)", result["batch4"]["engine_s_per_image"]["median"]],
            ["bare, batch 4 (per image)", result["batch4"]["bare_s_per_image"]["median"]],
            ["plain attention", result["options"]["plain_attention_s"]["median"]],
            ["SDPA + channels_last", result["options"]["sdpa_channels_last_s"]["median"]],
            ["--cpu-offload", result["cpu_offload"]["seconds"]["median"]]]
    if "compiled_s" in result["options"]:
        rows.append(["torch.compile (UNet + ControlNet)", result["options"]["compiled_s"]["median"]])
    print(table(rows, [f"{size}², {args.steps} steps", "median s/image"]))
    print(json.dumps({k: result[k] for k in ("matrix", "vram_gib", "cpu_offload", "achieved")}, indent=2))
    write("gpu-smoke" if args.smoke else "gpu", result)
    return result


if __name__ == "__main__":
    main()
