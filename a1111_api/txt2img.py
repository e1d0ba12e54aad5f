"""POST /sdapi/v1/txt2img: A1111's payload -> the studio's request (the schema names the keys), n_iter batches in a
row, and the answer in A1111's shape: images (each PNG with its infotext), the detected maps after them, `parameters`
and `info` as a JSON string."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from a1111_api.errors import refuse
from a1111_api.payload import NO_OPS, check_unused, encode_png
from a1111_api.units import ApiUnit, controlnet_args, parse_units
from pipelines.cancel import CancelToken
from pipelines.engine import StepUpdate
from pipelines.infotext import VERSION
from pipelines.limits import Limits
from pipelines.outputs import with_parameters
from pipelines.requests import GenerationRequest, GenerationResult
from pipelines.samplers import SAMPLER_NAMES
from pipelines.schema import schema_fields
from studio.batches import check_batch_count, run_batches

# the generation settings A1111's txt2img names, read from the schema: {A1111 key: GenerationRequest field}; the ones
# used only when starting from a picture (img2img, inpaint) are img2img's (a1111_api/img2img.py)
PICTURE_WHENS = ("img2img", "inpaint", "only_masked")
REQUEST_KEYS = {item.setting.a1111: item.name for item in schema_fields(GenerationRequest)
                if item.setting.a1111 and item.setting.when not in PICTURE_WHENS}
HIRES_ONLY = {item.name for item in schema_fields(GenerationRequest) if item.setting.when in ("enable_hr", "denoises")}
HANDLED = {*REQUEST_KEYS, "sampler_index", "scheduler", "n_iter", "send_images", "save_images", "override_settings",
           "alwayson_scripts", "eta"}
ANCESTRAL = ("Euler a",)  # A1111's `eta` default (1) applies to these; DDIM's is 0; the other samplers ignore it


@dataclass(frozen=True)
class Txt2Img:
    """A checked txt2img call: the request (units still raw uploads), and what A1111's extra fields ask for."""

    request: GenerationRequest
    units: list[ApiUnit]
    n_iter: int
    send_images: bool
    save_images: bool


def parse_txt2img(payload: dict, models: dict[str, tuple[str, str]], limits: Limits,
                  settings_check: Callable[[object], None], img2img: dict | None = None) -> Txt2Img:
    """Everything refusable is refused here, by field name, before any work; `settings_check` reads override_settings.
    `img2img`: what an img2img call adds (its keys, no-ops and the request's picture values: a1111_api/img2img.py)."""
    img2img = img2img or {}
    check_unused(payload, HANDLED | img2img.get("handled", set()), no_ops={**NO_OPS, **img2img.get("no_ops", {})})
    values = {REQUEST_KEYS[key]: payload[key] for key in REQUEST_KEYS if key in payload and payload[key] is not None}
    if values.get("enable_hr") is not True:  # A1111 ignores hires settings (clients always send them) with hires off
        values = {name: value for name, value in values.items() if name not in HIRES_ONLY}
    values["sampler"] = _sampler(payload)
    _check_eta(payload.get("eta"), values["sampler"])
    settings_check(payload.get("override_settings"))
    units = parse_units(controlnet_args(payload.get("alwayson_scripts")), models, img2img.get("values", {}).get("init_image"))
    request = GenerationRequest(units=tuple(item.unit for item in units), **values, **img2img.get("values", {}))
    n_iter = check_batch_count(request, payload.get("n_iter", 1), limits, name="n_iter")
    return Txt2Img(request, units, n_iter, _flag(payload, "send_images", True), _flag(payload, "save_images", False))


def _flag(payload: dict, key: str, default: bool) -> bool:
    value = payload.get(key, default)
    if not isinstance(value, bool):
        raise refuse(key, f"{key} must be true or false, got {json.dumps(value)}.")
    return value


def _sampler(payload: dict) -> str:
    """sampler_name (or the older sampler_index), joined with A1111 1.9's separate `scheduler` when that is not
    automatic: `DPM++ 2M` + `karras` is the `DPM++ 2M Karras` of older versions."""
    name = payload.get("sampler_name") or payload.get("sampler_index") or GenerationRequest.sampler
    scheduler = payload.get("scheduler")
    if scheduler in (None, "", "automatic", "Automatic") or not isinstance(name, str):
        return name
    schedule = str(scheduler).capitalize()
    if f"{name} {schedule}" in SAMPLER_NAMES:
        return f"{name} {schedule}"
    if name.endswith(f" {schedule}"):  # "DPM++ 2M Karras" sent with scheduler "karras" as well
        return name
    raise refuse("scheduler", f"The sampler {name!r} with the {scheduler!r} schedule is not available here; use "
                              f"scheduler \"automatic\" with one of: {', '.join(SAMPLER_NAMES)}.")


def _check_eta(eta: object, sampler: str) -> None:
    """eta changes only ancestral samplers (A1111's default 1) and DDIM (default 0); anything else is refused."""
    if eta is None or sampler not in (*ANCESTRAL, "DDIM"):
        return
    used = 1 if sampler in ANCESTRAL else 0
    if eta != used:
        raise refuse("eta", f"eta={eta} is not available with {sampler} here (it runs at eta {used}); send {used} or null.")


def run_txt2img(job: Txt2Img, generate: Callable[..., GenerationResult], cancel: CancelToken,
                on_step: Callable[[int, StepUpdate], None]) -> tuple[list[GenerationResult], bool]:
    """n_iter batches in a row, as the studio runs a batch count; an interrupt keeps the finished batches."""
    batches = run_batches(generate, job.request, job.n_iter, on_step, cancel, job.save_images)
    return batches.results, batches.interrupted


def txt2img_response(payload: dict, job: Txt2Img, results: list[GenerationResult], interrupted: bool,
                     model_name: str) -> dict:
    """A1111's answer: result images (if send_images), then each unit's map unless save_detected_map is false."""
    images = [with_parameters(image, text) for result in results for image, text in zip(result.images, result.infotexts)]
    maps = [result_map for item, result_map in zip(job.units, results[0].maps if results else []) if item.send_map]
    used = results[0].request if results else job.request
    seeds = [seed for result in results for seed in result.seeds]
    infotexts = [text for result in results for text in result.infotexts]
    info = {
        "prompt": used.prompt, "all_prompts": [used.prompt] * len(seeds), "negative_prompt": used.negative_prompt,
        "all_negative_prompts": [used.negative_prompt] * len(seeds), "seed": seeds[0] if seeds else used.seed,
        "all_seeds": seeds, "subseed": -1, "all_subseeds": [-1] * len(seeds), "subseed_strength": 0,
        "width": used.width, "height": used.height, "sampler_name": used.sampler, "cfg_scale": used.cfg_scale,
        "steps": used.steps, "batch_size": used.batch_size, "n_iter": job.n_iter, "restore_faces": False,
        "face_restoration_model": None, "sd_model_name": model_name, "sd_model_hash": None, "sd_vae_name": None,
        "seed_resize_from_w": -1, "seed_resize_from_h": -1,
        "denoising_strength": used.denoising_strength if used.img2img else None,
        "extra_generation_params": {}, "index_of_first_image": 0, "infotexts": infotexts, "styles": [],
        "job_timestamp": time.strftime("%Y%m%d%H%M%S"), "clip_skip": 1, "is_using_inpainting_conditioning": False,
        "version": VERSION, "interrupted": interrupted,
    }
    encoded = [encode_png(image) for image in images] if job.send_images else []
    return {"images": encoded + [encode_png(image) for image in maps], "parameters": payload, "info": json.dumps(info)}
