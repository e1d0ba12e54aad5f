"""The named API endpoints (/preprocess, /generate, /compare, /png_info) with A1111-style parameter names.

Each is a typed function registered with `gr.api`, so gradio_client callers get keyword arguments and
the server validates every value (the API bypasses the UI's sliders). /generate and /compare are async generators
that run the engine on a worker thread: a caller who cancels or disconnects stops the job within a step. A long job
yields None every half second (a heartbeat that lets gradio notice a vanished caller); `client.predict` returns the result.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import gradio as gr
from gradio.data_classes import FileData
from PIL import Image

from pipelines.axes import parse_axis
from pipelines.engine import CancelToken
from pipelines.requests import ControlUnit, GenerationRequest
from pipelines.schema import schema_fields
from studio import Studio
from studio.matrix import matrix_grid, matrix_items
from ui.api_signature import keyword_endpoint, parameter, schema_parameters
from ui.concurrency import GPU, PREPROCESS, QueueGuard
from ui.errors import user_errors
from ui.history_tab import read_png_info
from ui.scratch import Scratch

UNIT_NAMES = tuple(item.name for item in schema_fields(ControlUnit))


class _Files:
    """Returned images as PNGs (metadata kept) in the scratch folder, as FileData dicts."""

    def __init__(self) -> None:
        self.scratch = Scratch("studio-api-")

    def save(self, image: Image.Image, stem: str) -> dict:
        """A FileData *dict*: gradio moves files into its cache (so serves them) only where it finds dicts or models,
        and our endpoints return tuples and lists, where a FileData object would go out unmoved and every download 403."""
        path = self.scratch.save_png(image, stem)
        return FileData(path=str(path), mime_type="image/png", orig_name=path.name).model_dump()


class _EngineJob:
    """An engine call on a worker thread that stops within a step when its caller cancels or goes away.

    Gradio cancels a caller's task (Stop, `job.cancel()`) and closes the generator of one who disconnected; either
    way the `with` block is left early and the job's CancelToken is set. A plain function would run to the end."""

    HEARTBEAT_S = 0.5
    STOP_WAIT_S = 120.0  # a preprocessor run cannot be interrupted; the engine stops within a step

    def __init__(self, work: Callable[[CancelToken], Any]):
        self.token = CancelToken()
        self.future = asyncio.get_running_loop().run_in_executor(None, work, self.token)
        self.future.add_done_callback(lambda future: future.cancelled() or future.exception())  # never "unretrieved"

    async def finished(self) -> bool:
        await asyncio.wait({self.future}, timeout=self.HEARTBEAT_S)
        return self.future.done()

    async def __aenter__(self) -> _EngineJob:
        return self

    async def __aexit__(self, *exc_info) -> None:
        """Hold the caller's GPU slot until the worker has really stopped, so an abandoned job never overlaps the next."""
        if not self.future.done():
            self.token.cancel()
            await asyncio.wait({self.future}, timeout=self.STOP_WAIT_S)


def register_api(studio: Studio, guard: QueueGuard) -> None:
    """Call inside the Blocks context; `guard` says when a caller never reads its results."""
    files = _Files()

    def preprocess(image: FileData, **values: Any) -> tuple[dict, dict | None]:
        with user_errors():
            picture = files.save(studio.control_map(image, **values), f"map-{values['module']}")
            return picture, studio.poses(image, values["module"], values["processor_res"])

    async def generate(image: FileData | None, init_image: FileData | None, mask: FileData | None, keep_copy: bool | None,
                       visitor: gr.Request | None, **values: Any) -> AsyncIterator[tuple[list[dict], dict | None, str] | None]:
        with user_errors():
            unit = ControlUnit(image=image, **{name: values.pop(name) for name in UNIT_NAMES})
            request = GenerationRequest(units=(unit,) if image is not None else (), init_image=init_image, mask=mask, **values)

            def work(cancel: CancelToken) -> tuple[list[dict], dict | None, str]:
                result = studio.generate(request, cancel=cancel, keep_copy=keep_copy)
                images = [files.save(picture, f"seed{seed_}") for picture, seed_ in zip(result.images, result.seeds)]
                used = files.save(result.maps[0], "map") if result.maps else None
                return images, used, result.infotexts[0]

            async for item in _run(work, guard, visitor):
                yield item

    async def compare(image: FileData | None, modules: list | None, y_axis: str, y_values: str, init_image: FileData | None,
                      mask: FileData | None, keep_copy: bool | None, visitor: gr.Request | None,
                      **values: Any) -> AsyncIterator[tuple[list[dict], list[str], dict] | None]:
        with user_errors():
            template = ControlUnit(image=image, **{name: values.pop(name) for name in UNIT_NAMES if name in values})
            request = GenerationRequest(init_image=init_image, mask=mask, **values)
            axis = parse_axis(y_axis, y_values, studio.limits)

            def work(cancel: CancelToken) -> tuple[list[dict], list[str], dict]:
                matrix = studio.compare(request, template, list(modules or []), axis, cancel=cancel, keep_copy=keep_copy)
                items, captions = [], []
                for item in matrix_items(matrix):
                    items.append(files.save(item.image, item.caption.split(" · ")[0].replace(" + ", "+")))
                    captions.append(item.caption)
                return items, captions, files.save(matrix_grid(matrix), "grid")

            async for item in _run(work, guard, visitor):
                yield item

    def png_info(image: FileData) -> tuple[str, dict]:
        """Read the generation parameters of a PNG (ours or A1111's): the infotext and its parsed fields."""
        with user_errors():
            path = image.get("path") if isinstance(image, dict) else getattr(image, "path", None)
            return read_png_info(path)

    endpoints = _endpoints(preprocess, generate, compare)
    gr.api(endpoints["preprocess"], api_name="preprocess", concurrency_id=PREPROCESS, concurrency_limit=2)
    gr.api(endpoints["generate"], api_name="generate", concurrency_id=GPU,
           concurrency_limit=studio.backend.jobs_at_once)
    gr.api(endpoints["compare"], api_name="compare", concurrency_id=GPU,
           concurrency_limit=studio.backend.jobs_at_once)
    gr.api(png_info, api_name="png_info", concurrency_limit=4)


async def _run(work: Callable[[CancelToken], Any], guard: QueueGuard, visitor: gr.Request | None) -> AsyncIterator[Any]:
    """Heartbeats (None) while the job runs, then its result; a caller who never reads gives the job up."""
    async with _EngineJob(work) as job:
        while not await job.finished():
            if guard.abandoned(visitor):  # submitted and never read: nobody will take the result
                return
            yield None
        yield job.future.result()


# Settings that are per condition in a comparison, so not one value for the whole grid.
_PER_CONDITION = ("module", "condition", "family", "model", "threshold_a", "threshold_b")


def _endpoints(preprocess: Callable, generate: Callable, compare: Callable) -> dict[str, Callable]:
    """The three endpoints with their parameters derived from the schema (see ui/api_signature.py)."""
    file, optional_file = parameter("image", FileData), parameter("image", FileData | None, None)
    keep = parameter("keep_copy", bool | None, None)
    pictures = [parameter("init_image", FileData | None, None), parameter("mask", FileData | None, None)]
    visitor = parameter("visitor", gr.Request, None)
    prompts = schema_parameters(GenerationRequest, only=("prompt", "negative_prompt"))
    rest = schema_parameters(GenerationRequest, skip=("prompt", "negative_prompt"))
    return {
        "preprocess": keyword_endpoint(
            preprocess, [file, *schema_parameters(ControlUnit, only=("module", "processor_res", "threshold_a", "threshold_b"),
                                                  defaults={"module": "canny"})],
            tuple[FileData, dict[str, Any] | None], "preprocess",
            "Run a preprocessor on an image: the control map (PNG), and for OpenPose modules the people found as OpenPose "
            "JSON (`people[].pose_keypoints_2d`, `canvas_width`, `canvas_height`; null for other modules)."),
        "generate": keyword_endpoint(
            generate, [*prompts, optional_file, *schema_parameters(ControlUnit), *rest, *pictures, keep, visitor],
            AsyncIterator[tuple[list[FileData], FileData | None, str]], "generate",
            "Generate with one ControlNet unit (module `none` = the image already is a map). With `init_image`, img2img "
            "from that picture (`denoising_strength`: 0.6 of 20 steps runs the last 12); with a `mask` as well (white = "
            "repaint), inpaint (`mask_blur`, `mask_mode`, `masked_content`, `inpaint_area`, `inpaint_padding`). "
            "Returns PNGs with infotext, the map used, the infotext."),
        "compare": keyword_endpoint(
            compare, [prompts[0], optional_file, parameter("modules", list[str | dict[str, Any] | list[str | dict[str, Any]]] | None, None), *prompts[1:], *rest,
                      *schema_parameters(ControlUnit, skip=_PER_CONDITION), parameter("y_axis", str, "none"),
                      parameter("y_values", str, ""), *pictures, keep, visitor],
            AsyncIterator[tuple[list[FileData], list[str], FileData]], "compare",
            "The XY matrix: each column is a module, `canny + depth_midas` (one multi-ControlNet column), a settings object "
            "(`{\"module\": \"canny\", \"threshold_a\": 50}`; a ready map: `{\"image\": base64, \"condition\": \"depth\"}`) "
            "or a list of them; rows are the values of `y_axis` (a setting's name) in A1111's XYZ syntax. Returns images and captions row-major (maps first) and "
            "one labelled grid PNG."),
    }
