"""GPU benchmark: full-size SD1.5 + ControlNet architectures (configs in bench/configs, random weights, no download).

512x512, 20 steps, fp16: the engine vs a bare diffusers pipeline, batch 1 and the 6-condition matrix,
with each speed option on and off (SDPA attention, channels_last, torch.compile), and VRAM with 1 and 6
ControlNets resident. Random weights cost the same FLOPs as trained ones.
Run on a CUDA machine: python -m bench.gpu [--steps 20 --rounds 5 --compile]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from bench.common import interleaved, ratio_summary, summary, table, timed, write
from bench.engine_overhead import MATRIX, control_map
from pipelines.controlnets import ControlNetStore
from pipelines.engine import Engine
from pipelines.loading import BaseModel
from pipelines.requests import ControlUnit, GenerationRequest
from pipelines.samplers import build_scheduler
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


def vram_gib() -> float:
    torch.cuda.synchronize()
    return torch.cuda.memory_allocated() / 2**30


def run(steps: int, rounds: int, use_compile: bool) -> dict:
    from diffusers import StableDiffusionControlNetPipeline
    from diffusers.models.attention_processor import AttnProcessor

    device, dtype = torch.device("cuda"), torch.float16
    base, nets = build_full_size(device, dtype, MATRIX[:1])
    vram_one = vram_gib()
    store = ControlNetStore(lambda model_id, condition: nets[condition], capacity=7)
    engine = Engine(base, store)
    image = control_map(512)
    request = GenerationRequest(prompt="a house", units=(ControlUnit(image=image, condition="canny"),), steps=steps,
                                sampler="Euler", seed=1)
    pipe = StableDiffusionControlNetPipeline(vae=base.vae, text_encoder=base.text_encoder, tokenizer=base.tokenizer,
                                             unet=base.unet, controlnet=nets["canny"], scheduler=build_scheduler("Euler", base.scheduler_config),
                                             safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)

    def bare() -> None:
        pipe.scheduler = build_scheduler("Euler", base.scheduler_config)
        pipe(prompt="a house", image=image, num_inference_steps=steps, generator=torch.Generator().manual_seed(1))

    def sync(fn):
        def wrapped():
            fn()
            torch.cuda.synchronize()
        return wrapped

    results: dict = {"settings": {"steps": steps, "rounds": rounds, "size": 512, "dtype": "fp16"}}
    times = interleaved({"engine": sync(lambda: engine.generate(request)), "bare": sync(bare)}, rounds)
    results["sdpa"] = {"engine_s": summary(times["engine"]), "bare_s": summary(times["bare"]),
                       "overhead_ratio": ratio_summary(times["engine"], times["bare"])}
    # 6 ControlNets resident, condition matrix batched vs 6 sequential calls
    nets.update(build_full_size(device, dtype, MATRIX[1:])[1])
    results["vram_gib"] = {"one_controlnet": vram_one, "six_controlnets": vram_gib()}
    units = [ControlUnit(image=image, condition=c) for c in MATRIX]
    matrix = interleaved({"compare": sync(lambda: engine.compare(request, units)),
                          "sequential": sync(lambda: [engine.generate(GenerationRequest(**{**request.__dict__, "units": (u,)})) for u in units])},
                         max(2, rounds // 2))
    results["matrix"] = {"compare_s": summary(matrix["compare"]), "sequential_s": summary(matrix["sequential"]),
                         "speedup": 1 / ratio_summary(matrix["compare"], matrix["sequential"])["median"]}
    # speed options off: plain attention, then channels_last on
    base.unet.set_attn_processor(AttnProcessor())
    plain = [timed(sync(lambda: engine.generate(request))) for _ in range(rounds)]
    base.unet.set_default_attn_processor()
    from diffusers.models.attention_processor import AttnProcessor2_0

    base.unet.set_attn_processor(AttnProcessor2_0())
    base.unet.to(memory_format=torch.channels_last)
    for net in nets.values():
        net.to(memory_format=torch.channels_last)
    channels_last = [timed(sync(lambda: engine.generate(request))) for _ in range(rounds)]
    results["options"] = {"plain_attention_s": summary(plain), "sdpa_channels_last_s": summary(channels_last)}
    if use_compile:
        base.unet = torch.compile(base.unet, mode="max-autotune")
        engine.generate(request)  # warm-up compiles
        compiled = [timed(sync(lambda: engine.generate(request))) for _ in range(rounds)]
        results["options"]["compiled_s"] = summary(compiled)
    best = min(results["sdpa"]["engine_s"]["median"], results["options"]["sdpa_channels_last_s"]["median"],
               results["options"].get("compiled_s", {"median": 1e9})["median"])
    results["achieved"] = {"seconds_per_image": best, "it_per_s": steps / best, "tflops": TFLOP_PER_IMAGE / best,
                           "fraction_of_h100_floor": H100_FLOOR_S / best}
    return results


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench.gpu needs a CUDA GPU; on CPU run python -m bench.all")
    result = run(args.steps, args.rounds, args.compile)
    rows = [["engine (SDPA)", result["sdpa"]["engine_s"]["median"]], ["bare diffusers (SDPA)", result["sdpa"]["bare_s"]["median"]],
            ["plain attention", result["options"]["plain_attention_s"]["median"]],
            ["SDPA + channels_last", result["options"]["sdpa_channels_last_s"]["median"]]]
    if "compiled_s" in result["options"]:
        rows.append(["torch.compile", result["options"]["compiled_s"]["median"]])
    print(table(rows, ["512², 20 steps, batch 1", "median s/image"]))
    print(json.dumps({k: result[k] for k in ("matrix", "vram_gib", "achieved")}, indent=2))
    write("gpu", result)
    return result


if __name__ == "__main__":
    main()
