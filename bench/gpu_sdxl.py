"""GPU benchmark, SDXL: the full-size SDXL base and ControlNet Union ProMax (configs in bench/configs, random weights,
no download) at 1024², 20 steps, fp16. The engine vs a bare StableDiffusionXLControlNetUnionPipeline on the same
components (s/image, it/s), VRAM resident and peak, and the job's FLOPs counted by torch's FlopCounterMode (one short
run at 1 and at 2 steps: per-step and fixed cost), so TFLOP/s is measured work over measured time, against the dense
fp16 floor of an H100. Random weights cost the same FLOPs as trained ones.
Run on a CUDA machine: python -m bench.gpu --sdxl [--steps 20 --rounds 3]; `--smoke` runs it on the CPU on tiny-sdxl.
"""

from __future__ import annotations

import torch

from bench.common import interleaved, ratio_summary, summary, table, write
from bench.engine_overhead import control_map
from bench.gpu import _config, sync, vram_gib
from pipelines.architectures import UNION_TYPES
from pipelines.controlnets import ControlNetStore
from pipelines.engine import Engine
from pipelines.loading import BaseModel, load_base
from pipelines.requests import ControlUnit, GenerationRequest
from pipelines.samplers import build_scheduler

H100_DENSE_FP16_TFLOPS = 990.0


def build_full_size(device: torch.device, dtype: torch.dtype) -> tuple[BaseModel, torch.nn.Module]:
    from diffusers import AutoencoderKL, ControlNetUnionModel, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from pipelines.tiny import build_tokenizer
    from pipelines.tiny_sdxl import SDXL_SCHEDULER_CONFIG

    with torch.device(device):
        unet = UNet2DConditionModel(**_config("sdxl_unet.json")).to(dtype).eval()
        vae = AutoencoderKL(**_config("sdxl_vae.json")).to(dtype).eval()
        text = CLIPTextModel(CLIPTextConfig(**_config("sd15_text_encoder.json"))).to(dtype).eval()
        text_2 = CLIPTextModelWithProjection(CLIPTextConfig(**_config("sdxl_text_encoder_2.json"))).to(dtype).eval()
        union = ControlNetUnionModel(**_config("sdxl_union_promax.json")).to(dtype).eval()
    tokenizer, tokenizer_2 = build_tokenizer(), build_tokenizer()  # any ids below CLIP's 49408 cost the same
    base = BaseModel("sdxl-random", unet, vae, text, tokenizer, dict(SDXL_SCHEDULER_CONFIG), device, dtype, False,
                     text_2, tokenizer_2, force_zeros_for_empty_prompt=True)
    return base, union


def build_tiny_size(device: torch.device, dtype: torch.dtype) -> tuple[BaseModel, torch.nn.Module]:
    from pipelines.tiny_sdxl import build_union_controlnet

    return load_base("tiny-sdxl", device, dtype), build_union_controlnet().to(device, dtype)


def counted_tflop(engine: Engine, request: GenerationRequest, steps: int) -> dict:
    """The job's FLOPs at `steps`, from two counted short runs (1 and 2 steps): text encoding and decoding once,
    the UNet and the ControlNet (both CFG halves) once per step."""
    from dataclasses import replace

    from torch.utils.flop_counter import FlopCounterMode

    totals = []
    for count in (1, 2):
        with FlopCounterMode(display=False) as counter:
            engine.generate(replace(request, steps=count), save=False)
        totals.append(counter.get_total_flops() / 1e12)
    per_step = totals[1] - totals[0]
    return {"per_step": per_step, "fixed": totals[0] - per_step, "per_image": totals[0] - per_step + steps * per_step}


def run(steps: int, rounds: int, size: int = 1024, smoke: bool = False) -> dict:
    from diffusers import StableDiffusionXLControlNetUnionPipeline

    device, dtype = (torch.device("cpu"), torch.float32) if smoke else (torch.device("cuda"), torch.float16)
    base, union = (build_tiny_size if smoke else build_full_size)(device, dtype)
    resident = vram_gib()
    engine = Engine(base, ControlNetStore(lambda model_id, condition: union, capacity=1))
    image = control_map(size)
    request = GenerationRequest(prompt="a house", units=(ControlUnit(image=image, condition="canny"),), steps=steps,
                                sampler="Euler", seed=1, width=size, height=size)
    pipe = StableDiffusionXLControlNetUnionPipeline(
        vae=base.vae, text_encoder=base.text_encoder, text_encoder_2=base.text_encoder_2, tokenizer=base.tokenizer,
        tokenizer_2=base.tokenizer_2, unet=base.unet, controlnet=union,
        scheduler=build_scheduler("Euler", base.scheduler_config))
    pipe.set_progress_bar_config(disable=True)

    def bare() -> None:
        pipe.scheduler = build_scheduler("Euler", base.scheduler_config)
        pipe(prompt="a house", control_image=[image], control_mode=[UNION_TYPES["canny"]], num_inference_steps=steps,
             width=size, height=size, generator=torch.Generator().manual_seed(1))

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    times = interleaved({"engine": sync(lambda: engine.generate(request, save=False)), "bare": sync(bare)}, rounds)
    flops = counted_tflop(engine, request, steps)
    seconds = summary(times["engine"])["median"]
    return {
        "settings": {"steps": steps, "rounds": rounds, "size": size, "dtype": str(dtype), "smoke": smoke},
        "engine_s": summary(times["engine"]), "bare_s": summary(times["bare"]),
        "overhead_ratio": ratio_summary(times["engine"], times["bare"]),
        "vram_gib": {"resident": resident, "peak_job": vram_gib(peak=True)},
        "tflop": flops,
        "achieved": {"it_per_s": steps / seconds, "tflops": flops["per_image"] / seconds,
                     "fraction_of_h100_dense_fp16": flops["per_image"] / seconds / H100_DENSE_FP16_TFLOPS},
    }


def report(steps: int, rounds: int, smoke: bool) -> dict:
    size = 64 if smoke else 1024
    result = run(steps, rounds, size=size, smoke=smoke)
    rows = [["engine", result["engine_s"]["median"], result["achieved"]["it_per_s"], result["achieved"]["tflops"]],
            ["bare StableDiffusionXLControlNetUnionPipeline", result["bare_s"]["median"], steps / result["bare_s"]["median"],
             result["tflop"]["per_image"] / result["bare_s"]["median"]]]
    print(table(rows, [f"SDXL + union, {size}², {steps} steps", "median s/image", "it/s", "TFLOP/s"]))
    print(f"engine / bare: {result['overhead_ratio']['median']:.3f}; {result['tflop']['per_image']:.1f} TFLOP per image; "
          f"VRAM resident {result['vram_gib']['resident']:.1f} GiB, peak {result['vram_gib']['peak_job']:.1f} GiB")
    write("gpu-sdxl-smoke" if smoke else "gpu-sdxl", result)
    return result
