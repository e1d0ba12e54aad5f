"""The A1111-compatible routes, mounted on gradio's own FastAPI app by `python app.py --api`: the same login (HTTP basic
with the --auth credentials, what `webuiapi` sends), the same studio and engine, one --queue-size for UI and API."""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from PIL import Image
from starlette.concurrency import run_in_threadpool

from a1111_api.controlnet import API_VERSION, controlnet_models, detect, module_detail
from a1111_api.errors import ApiError, api_errors, refuse
from a1111_api.img2img import parse_img2img
from a1111_api.payload import encode_png, read_json
from a1111_api.progress import ApiJob, ApiJobs, progress_body
from a1111_api.txt2img import Txt2Img, parse_txt2img, run_txt2img, txt2img_response
from pipelines.samplers import SAMPLER_NAMES
from preprocessors.registry import names
from studio import Studio
from studio.png_info import infotext_fields, infotext_of


@dataclass
class ApiSettings:
    """What app.py knows that the routes need: the logins, who the operator is, the queue's size."""

    check_login: Callable[[str, str], bool] | None = None  # None: no --auth, every caller is let in
    local_only: bool = True  # only this machine's user can reach the server: they are the operator
    admins: frozenset[str] = field(default_factory=frozenset)
    queue_size: int = 16
    ui_waiting: Callable[[], int] = lambda: 0


def mount_a1111_api(app: FastAPI, studio: Studio, settings: ApiSettings) -> None:
    """Add the routes to the running app (Starlette reads its route list per request)."""
    app.include_router(_router(studio, settings, ApiJobs(settings.queue_size, settings.ui_waiting)))


def _answers(route: Callable[..., Awaitable[object]]) -> Callable[..., Awaitable[object]]:
    """A refusal or a failure becomes JSON with its sentence, never a stack trace."""
    @functools.wraps(route)
    async def answered(request: Request):
        try:
            result = await route(request)
        except ApiError as error:
            headers = {"WWW-Authenticate": "Basic"} if error.status == 401 else None
            return JSONResponse(error.body(), status_code=error.status, headers=headers)
        return result if isinstance(result, JSONResponse) else JSONResponse(result)
    return answered


def _router(studio: Studio, settings: ApiSettings, jobs: ApiJobs) -> APIRouter:
    router = APIRouter()
    backend = studio.backend

    def caller(request: Request) -> str:
        """The basic-auth user (checked against the --auth logins), else the client's address."""
        if settings.check_login is None:
            return f"host:{request.client.host if request.client else 'unknown'}"
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            user, password = "", ""
        if scheme.lower() != "basic" or not settings.check_login(user, password):
            raise ApiError(401, "This server needs a login: send HTTP basic auth with the --auth user and password.")
        return f"user:{user}"

    def operator(who: str) -> bool:
        return settings.local_only or who.removeprefix("user:") in settings.admins

    def model_title() -> str:
        return backend.state.model

    def model_titles() -> list[str]:
        """What an operator may switch to: the model running, and the built-in tiny one."""
        return [model_title()] + (["tiny"] if model_title() != "tiny" else [])

    def check_settings(values: object, who: str | None = None) -> None:
        """POST /options (`who` set: the operator may switch models) and a request's override_settings (`who` None:
        only the values this server runs with)."""
        where = "" if who else "override_settings."
        if values in (None, {}):
            return
        if not isinstance(values, dict):
            raise refuse(where.rstrip(".") or "options", "Send the options as an object of {option: value}.")
        current = options_body()
        for key, value in values.items():
            name = f"{where}{key}"
            if key == "sd_model_checkpoint" and value != current[key]:
                if who is None:
                    raise refuse(name, f"This server runs {current[key]}; a request cannot switch models for itself "
                                       f"(send {name} = {current[key]!r}, or leave it out).")
                if not operator(who):
                    raise refuse(name, f"This server runs {current[key]}; only its operator switches models.")
                if value not in model_titles():
                    raise refuse(name, f"{value!r} is not a model this server lists; choose one of "
                                       f"{', '.join(model_titles())} (/sdapi/v1/sd-models).")
                with api_errors():
                    backend.switch(str(value))
            elif key not in current or value != current[key]:
                raise refuse(name, f"The option {key} cannot be changed on this server (it runs with "
                                   f"{key}={current.get(key, 'its own value')}).")

    def options_body() -> dict:
        return {"sd_model_checkpoint": model_title(), "sd_checkpoint_hash": None, "CLIP_stop_at_last_layers": 1,
                "samples_format": "png", "control_net_unit_count": studio.limits.max_units,
                "control_net_max_models_num": studio.limits.max_units}

    async def run_job(request: Request, who: str, job: ApiJob, work: Callable[[], object]) -> object:
        """The work on a worker thread, admitted through the queue's door; a caller who hangs up stops it."""
        with jobs.admitted(who, job):
            task = asyncio.ensure_future(run_in_threadpool(work))
            while not task.done():
                await asyncio.wait({task}, timeout=0.5)
                if not task.done() and await request.is_disconnected():
                    job.cancel.cancel()
            return task.result()

    async def generation(request: Request, parse: Callable[..., Txt2Img]):
        """txt2img and img2img: the payload parsed (refused by field before any work), then run as batches."""
        who = caller(request)
        payload = await read_json(request.stream())
        models = controlnet_models(studio.controlnet_overrides, studio.architecture())
        with api_errors():
            parsed = await run_in_threadpool(parse, payload, models, studio.limits, check_settings)
        job = ApiJob(batches=parsed.n_iter)

        def work():
            with api_errors():
                results, interrupted = run_txt2img(parsed, studio.generate, job.cancel, job.update)
                return txt2img_response(payload, parsed, results, interrupted, model_title())

        return await run_job(request, who, job, work)

    @router.post("/sdapi/v1/txt2img")
    @_answers
    async def txt2img(request: Request):
        return await generation(request, parse_txt2img)

    @router.post("/sdapi/v1/img2img")
    @_answers
    async def img2img(request: Request):
        return await generation(request, parse_img2img)

    @router.post("/controlnet/detect")
    @_answers
    async def controlnet_detect(request: Request):
        who = caller(request)
        payload = await read_json(request.stream())

        def work():
            with api_errors():
                return detect(studio, payload)

        return await run_job(request, who, ApiJob(kind="detect"), work)

    @router.post("/sdapi/v1/png-info")
    @_answers
    async def png_info(request: Request):
        caller(request)
        payload = await read_json(request.stream())
        value = payload.get("image")
        if not isinstance(value, str) or not value:
            raise refuse("image", "Send the image as base64 (raw or a data: URL) in the field \"image\".")
        try:
            data = base64.b64decode(value.split(",", 1)[1] if value.startswith("data:") else value)
            with Image.open(io.BytesIO(data)) as image:  # only the header and text chunks are read
                text = infotext_of(image)
                items = {key: item for key, item in image.info.items() if isinstance(item, str) and key != "parameters"}
        except (binascii.Error, OSError, ValueError):
            raise refuse("image", "That is not an image we can read; send a PNG made by this app or A1111.") from None
        with api_errors():
            fields = infotext_fields(text)
        parameters = {"Prompt": fields.get("prompt", ""), "Negative prompt": fields.get("negative_prompt", ""),
                      **{key: value for key, value in fields.items() if key not in ("prompt", "negative_prompt", "units")}}
        if "Size" in parameters:
            parameters["Size-1"], _, parameters["Size-2"] = str(parameters["Size"]).partition("x")
        return {"info": text, "items": {"parameters": text, **items} if text else items, "parameters": parameters}

    @router.get("/sdapi/v1/progress")
    @_answers
    async def progress(request: Request):
        job, count = jobs.current(caller(request))
        skip = request.query_params.get("skip_current_image", "false").lower() == "true"
        preview = None if skip or job is None or job.preview is None else encode_png(job.preview)
        return progress_body(job, count, preview)

    @router.post("/sdapi/v1/interrupt")
    @_answers
    async def interrupt(request: Request):
        jobs.interrupt(caller(request))  # the API caller's own jobs; a browser user's job is never reached
        return {}

    @router.get("/sdapi/v1/options")
    @_answers
    async def get_options(request: Request):
        caller(request)
        return options_body()

    @router.post("/sdapi/v1/options")
    @_answers
    async def set_options(request: Request):
        who = caller(request)
        payload = await read_json(request.stream())
        await run_in_threadpool(check_settings, payload, who)
        return None

    @router.get("/sdapi/v1/sd-models")
    @_answers
    async def sd_models(request: Request):
        caller(request)
        return [{"title": title, "model_name": title, "hash": None, "sha256": None, "filename": title, "config": None}
                for title in model_titles()]

    @router.get("/sdapi/v1/samplers")
    @_answers
    async def samplers(request: Request):
        caller(request)
        return [{"name": name, "aliases": [], "options": {}} for name in SAMPLER_NAMES]

    @router.get("/sdapi/v1/schedulers")
    @_answers
    async def schedulers(request: Request):
        caller(request)
        return [{"name": "automatic", "label": "Automatic", "aliases": None, "default_rho": -1,
                 "need_inner_model": False}]

    @router.get("/sdapi/v1/scripts")
    @_answers
    async def scripts(request: Request):
        caller(request)
        # "controlnet" is the always-on script; "controlnet m2m" is the name webuiapi looks for before it clears the
        # units its shared default dict kept from the previous call (without it, old units ride along). Selecting it
        # as a script is refused, like every script_name.
        return {"txt2img": ["controlnet", "controlnet m2m"], "img2img": ["controlnet", "controlnet m2m"]}

    @router.get("/controlnet/version")
    @_answers
    async def version(request: Request):
        caller(request)
        return {"version": API_VERSION}

    @router.get("/controlnet/settings")
    @_answers
    async def controlnet_settings(request: Request):
        caller(request)
        return {"control_net_unit_count": studio.limits.max_units}

    @router.get("/controlnet/model_list")
    @_answers
    async def model_list(request: Request):
        caller(request)
        return {"model_list": list(controlnet_models(studio.controlnet_overrides, studio.architecture()))}

    @router.get("/controlnet/module_list")
    @_answers
    async def module_list(request: Request):
        caller(request)
        return {"module_list": names(), "module_detail": module_detail()}

    return router
