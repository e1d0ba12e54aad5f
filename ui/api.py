"""The named API endpoints (/preprocess, /generate, /compare, /png_info) with A1111-style parameter names.

Each is a typed function registered with `gr.api`, so gradio_client callers get keyword arguments and
the server validates every value (the API bypasses the UI's sliders). /generate and /compare are async generators
that run the engine on a worker thread: a caller who cancels or disconnects stops the job within a step. A long job
yields None every half second (a heartbeat that lets gradio notice a vanished caller); `client.predict` returns the result.
"""

from __future__ import annotations

import asyncio
import atexit
import secrets
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.data_classes import FileData
from PIL import Image

from pipelines.engine import CancelToken
from pipelines.outputs import png_info as png_chunk
from ui.concurrency import GPU, PREPROCESS, QueueGuard
from ui.errors import user_errors
from ui.history_tab import read_png_info
from ui.studio import Settings, Studio, UnitSettings


class _Files:
    """Writes returned images as PNGs (metadata kept) in a private folder; gradio serves them from its cache."""

    KEEP_S = 3600  # a caller downloads its images right after the call; a server running for weeks must not fill the disk

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="studio-api-"))
        atexit.register(shutil.rmtree, self.folder, ignore_errors=True)
        # gradio moves only top-level returned files into its cache; lists of files are served from here
        gr.set_static_paths([self.folder])

    def save(self, image: Image.Image, stem: str) -> dict:
        """A FileData *dict*: gradio moves files into its cache (so serves them) only where it finds dicts or models,
        and our endpoints return tuples and lists, where a FileData object would go out unmoved and every download 403."""
        self._prune()
        # 128 random bits: the folder's name is in every response, so a counter let visitors fetch each other's images
        path = self.folder / f"{secrets.token_urlsafe(16)}-{stem}.png"
        image.save(path, format="PNG", pnginfo=png_chunk(image.info["parameters"]) if "parameters" in image.info else None)
        return FileData(path=str(path), mime_type="image/png", orig_name=path.name).model_dump()

    def _prune(self) -> None:
        """Drop files older than KEEP_S (the outputs folder keeps the artist's copy)."""
        cutoff = time.time() - self.KEEP_S
        for old in self.folder.glob("*.png"):
            try:
                if old.stat().st_mtime < cutoff:
                    old.unlink()
            except FileNotFoundError:  # another endpoint pruned it first
                pass


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

    def preprocess(image: FileData, module: str = "canny", processor_res: int = 512,
                   threshold_a: float | None = None, threshold_b: float | None = None) -> FileData:
        """Run a preprocessor on an image and return the control map (PNG)."""
        with user_errors():
            return files.save(studio.control_map(image, module, processor_res, threshold_a, threshold_b), f"map-{module}")

    async def generate(prompt: str, negative_prompt: str = "", image: FileData | None = None, module: str = "canny",
                       model: str = "", weight: float = 1.0, guidance_start: float = 0.0, guidance_end: float = 1.0,
                       control_mode: str = "Balanced", resize_mode: str = "Crop and Resize", processor_res: int = 512,
                       threshold_a: float | None = None, threshold_b: float | None = None, pixel_perfect: bool = False,
                       condition: str = "auto", steps: int = 20, cfg_scale: float = 7.0, sampler: str = "Euler a",
                       seed: int = -1, width: int = 512, height: int = 512, batch_size: int = 1,
                       draft: bool = False, keep_copy: bool | None = None, request: gr.Request = None) -> AsyncIterator[tuple[list[FileData], FileData | None, str]]:
        """Generate with one ControlNet unit (module `none` = the image already is a map). Returns PNGs with infotext, the map used, the infotext."""
        with user_errors():
            settings = Settings(prompt=prompt, negative_prompt=negative_prompt, steps=steps, cfg_scale=cfg_scale,
                                sampler=sampler, seed=seed, width=width, height=height, batch_size=batch_size, draft=draft)
            unit = UnitSettings(image=image, module=module, condition=condition, model=model, weight=weight,
                                guidance_start=guidance_start, guidance_end=guidance_end, control_mode=control_mode,
                                resize_mode=resize_mode, processor_res=processor_res, threshold_a=threshold_a,
                                threshold_b=threshold_b, pixel_perfect=pixel_perfect, enabled=image is not None)

            def work(cancel: CancelToken) -> tuple[list[dict], dict | None, str]:
                result = studio.generate(settings, [unit], cancel=cancel, keep_copy=keep_copy)
                images = [files.save(picture, f"seed{seed_}") for picture, seed_ in zip(result.images, result.seeds)]
                used = files.save(result.maps[0], "map") if result.maps else None
                return images, used, result.infotexts[0]

            async with _EngineJob(work) as job:
                while not await job.finished():
                    if guard.abandoned(request):  # submitted and never read: nobody will take the result
                        return
                    yield None
                yield job.future.result()

    async def compare(prompt: str, image: FileData, modules: list[str], negative_prompt: str = "", weight: float = 1.0,
                      control_mode: str = "Balanced", resize_mode: str = "Crop and Resize", processor_res: int = 512,
                      steps: int = 20, cfg_scale: float = 7.0, sampler: str = "Euler a", seed: int = -1, width: int = 512,
                      height: int = 512, batch_size: int = 1, keep_copy: bool | None = None, request: gr.Request = None) -> AsyncIterator[tuple[list[FileData], list[str], FileData]]:
        """The condition matrix: for each module its map and result(s), captioned, plus one labelled grid PNG."""
        with user_errors():
            settings = Settings(prompt=prompt, negative_prompt=negative_prompt, steps=steps, cfg_scale=cfg_scale,
                                sampler=sampler, seed=seed, width=width, height=height, batch_size=batch_size)
            template = UnitSettings(image=image, weight=weight, control_mode=control_mode, resize_mode=resize_mode,
                                    processor_res=processor_res)
            chosen = list(modules or [])

            def work(cancel: CancelToken) -> tuple[list[dict], list[str], dict]:
                results, grid = studio.compare(settings, template, chosen, cancel=cancel, keep_copy=keep_copy)
                items, captions = [], []
                for module, result in zip(chosen, results):
                    items.append(files.save(result.maps[0], f"{module}-map"))
                    captions.append(f"{module} · map")
                    for picture, seed_ in zip(result.images, result.seeds):
                        items.append(files.save(picture, f"{module}-seed{seed_}"))
                        captions.append(f"{module} · seed {seed_}")
                return items, captions, files.save(grid, "grid")

            async with _EngineJob(work) as job:
                while not await job.finished():
                    if guard.abandoned(request):  # submitted and never read: nobody will take the result
                        return
                    yield None
                yield job.future.result()

    def png_info(image: FileData) -> tuple[str, dict]:
        """Read the generation parameters of a PNG (ours or A1111's): the infotext and its parsed fields."""
        with user_errors():
            path = image.get("path") if isinstance(image, dict) else getattr(image, "path", None)
            return read_png_info(path)

    gr.api(preprocess, api_name="preprocess", concurrency_id=PREPROCESS, concurrency_limit=2)
    gr.api(generate, api_name="generate", concurrency_id=GPU, concurrency_limit=1)
    gr.api(compare, api_name="compare", concurrency_id=GPU, concurrency_limit=1)
    gr.api(png_info, api_name="png_info", concurrency_limit=4)
