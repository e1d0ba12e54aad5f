"""The one shared generation engine: validates, serialises accelerator work, and returns reproducible results."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from PIL import Image

from hub import HubAccess
from pipelines.architectures import check_fits, union_type
from pipelines.cancel import CancelToken, JobTimedOut
from pipelines.canvas import Canvas, make_canvas, mark_masked
from pipelines.control_maps import fit_map
from pipelines.controlnets import ControlNetStore, load_controlnet
from pipelines.decode import decode_latents
from pipelines.denoise import GenerationError, JobCancelled, PreparedUnit, Row
from pipelines.img2img import encode_canvas
from pipelines.infotext import build_infotext
from pipelines.limits import DEFAULT_LIMITS, Limits
from pipelines.loading import BaseModel, load_base, move, resolve_device
from pipelines.memory import free_memory, return_heap
from pipelines.offload import ModelOffload
from pipelines.outputs import OutputWriter, with_parameters
from pipelines.passes import Passes, run_passes
from pipelines.prompts import encode_prompts
from pipelines.requests import ControlUnit, GenerationRequest, GenerationResult, check_matrix_budget, validate_request
from pipelines.seeds import batch_key, batch_seeds, concrete_seed, share_random_seed
from pipelines.speed import DraftMode, PreviewDecoder, optimize_for_cuda, warm_up
from pipelines.tiny_sdxl import built_in_controlnet

log = logging.getLogger(__name__)
__all__ = ["Engine", "GenerationError", "JobCancelled", "JobTimedOut", "CancelToken", "StepUpdate"]


@dataclass(frozen=True)
class StepUpdate:
    """Progress of the running job, reported after every sampler step (with preview images every few steps)."""

    step: int
    total: int
    previews: list[Image.Image] | None = None


StepCallback = Callable[[StepUpdate], None]


class Engine:
    """Owns the base model, the ControlNet store and the lock that keeps one job on the accelerator."""

    def __init__(self, base: BaseModel, controlnets: ControlNetStore, writer: OutputWriter | None = None,
                 limits: Limits = DEFAULT_LIMITS, matrix_batch: int = 8, preview_every: int = 0,
                 previews: PreviewDecoder | None = None, offload: ModelOffload | None = None, hub: HubAccess | None = None):
        self.base = base
        self.hub = hub or HubAccess()
        self.offload = offload
        self.controlnets = controlnets
        self.writer = writer or OutputWriter(None)
        self.limits = limits
        self.matrix_batch = max(1, matrix_batch)
        self.preview_every = preview_every
        self.previews = previews or PreviewDecoder(base.device, base.dtype, repo=base.architecture.taesd, hub=self.hub)
        self.draft = DraftMode(base, repo=base.architecture.lcm_lora, offload=offload, hub=self.hub)
        self._lock = threading.Lock()
        self._map_processor = None

    @classmethod
    def load(cls, model: str = "tiny", device: str = "auto", outputs=None, allow_pickle: bool = False,
             controlnet_overrides: dict[str, str] | None = None, controlnet_cache: int = 7,
             limits: Limits = DEFAULT_LIMITS, preview_every: int = 0, taesd: bool = True,
             compile_models: bool = False, vae_tiling: bool = False, cpu_offload: bool = False,
             hub: HubAccess | None = None) -> "Engine":
        """Build the engine the app serves; with `tiny`, the default ControlNets are tiny ones too."""
        torch_device, dtype = resolve_device(device)
        hub = hub or HubAccess()
        offload = ModelOffload(torch_device) if cpu_offload else None  # on the CPU it moves nothing (and saves nothing)
        if offload and compile_models:
            log.warning("--compile is ignored with --cpu-offload (compiled graphs and moving weights do not mix)")
            compile_models = False
        weights_device = torch.device("cpu") if offload else torch_device  # offloaded weights wait in CPU RAM
        base = load_base(model, weights_device, dtype, allow_pickle=allow_pickle, hub=hub)
        if offload:
            base = replace(base, device=torch_device)
            offload.attach_base(base)
        base.unet = optimize_for_cuda(base.unet, torch_device, compile_models)
        if vae_tiling:
            base.vae.enable_tiling()  # decode large images in tiles on small GPUs

        architecture = base.architecture

        def loader(model_id: str, condition: str) -> torch.nn.Module:
            if base.is_tiny and model_id == architecture.controlnets.get(condition):
                net = move(built_in_controlnet(base.name, condition), weights_device, dtype)
            else:
                net = load_controlnet(model_id, condition, weights_device, dtype, allow_pickle=allow_pickle, hub=hub,
                                      fits=lambda config: check_fits(config, model_id, architecture, base.name))
            net = optimize_for_cuda(net, torch_device, compile_models)
            return offload.attach(net) if offload else net

        store = ControlNetStore(loader, capacity=controlnet_cache, overrides=controlnet_overrides,
                                defaults=architecture.controlnets)
        previews = PreviewDecoder(torch_device, dtype, use_taesd=taesd, repo=architecture.taesd, hub=hub)
        engine = cls(base, store, OutputWriter(outputs), limits, preview_every=preview_every, previews=previews, offload=offload,
                     hub=hub)
        if compile_models and torch_device.type == "cuda":
            log.info("compiled models warmed up in %.1f s", warm_up(engine))
        return engine

    # -- public API -----------------------------------------------------------------------------------
    def generate(self, request: GenerationRequest, on_step: StepCallback | None = None,
                 cancel: CancelToken | None = None, save: bool = True) -> GenerationResult:
        """One request: `batch_size` images with seeds seed, seed+1, ... (A1111's convention); save=False keeps it off disk."""
        request = validate_request(request, self.limits)
        check_matrix_budget([request], self.limits)
        request = concrete_seed(request)
        cells = [(request, request.units, batch_seeds(request))]
        return self._run(request, cells, on_step, cancel, save)[0]

    def compare(self, request: GenerationRequest, units: list[ControlUnit], on_step: StepCallback | None = None,
                cancel: CancelToken | None = None, save: bool = True) -> list[GenerationResult]:
        """The condition matrix: the same prompt, seed and settings once per unit, batched where possible."""
        if not units:
            raise GenerationError("Choose at least one condition to compare.")
        return self.matrix([replace(request, units=(unit,)) for unit in units], on_step, cancel, save)

    def matrix(self, cells: list[GenerationRequest], on_step: StepCallback | None = None, cancel: CancelToken | None = None,
               save: bool = True, on_cell: Callable[[int, GenerationResult], None] | None = None) -> list[GenerationResult]:
        """An XY matrix, each cell a whole request (results in cell order, `on_cell` told as each batch finishes). Cells
        that differ only in their units and seed share UNet batches; the others run as their own batches. Cells that
        ask for a random seed share one, so a matrix compares settings, not luck."""
        if not cells:
            raise GenerationError("A matrix needs at least one cell.")
        cells = [validate_request(cell, self.limits) for cell in cells]
        check_matrix_budget(cells, self.limits)
        cells = share_random_seed(cells)
        groups: dict[tuple, list[int]] = {}
        for index, cell in enumerate(cells):
            groups.setdefault(batch_key(cell), []).append(index)
        results: list[GenerationResult | None] = [None] * len(cells)
        prompts: dict[tuple[str, str], tuple] = {}  # each distinct prompt is encoded once for the whole matrix
        per_batch = max(1, self.matrix_batch // cells[0].batch_size)  # cells whose rows fill one UNet batch
        for group in groups.values():
            for start in range(0, len(group), per_batch):  # decoded batch by batch, so finished cells can be shown
                indexes = group[start:start + per_batch]
                batch = [(cells[i], cells[i].units, batch_seeds(cells[i])) for i in indexes]
                for index, result in zip(indexes, self._run(replace(cells[indexes[0]], units=()), batch, on_step, cancel, save,
                                                                  prompts)):
                    results[index] = result
                    if on_cell is not None:
                        on_cell(index, result)
        return results

    def status(self) -> dict[str, object]:
        """What the Models tab shows: base model, device, dtype, resident ControlNets, memory."""
        import psutil

        info: dict[str, object] = {
            "model": self.base.name, "tiny": self.base.is_tiny, "architecture": self.base.architecture.name,
            "device": str(self.base.device),
            "dtype": str(self.base.dtype).replace("torch.", ""), "controlnets": self.controlnets.resident(),
            "rss_mb": round(psutil.Process().memory_info().rss / 2**20), "cpu_offload": self.offload is not None,
        }
        if self.base.device.type == "cuda":
            info["vram_mb"] = round(torch.cuda.memory_allocated() / 2**20)
        return info

    def unload_controlnets(self) -> None:
        """Free every resident ControlNet (the next job reloads what it needs)."""
        with self._lock:
            self.controlnets.clear()
            free_memory(self.base.device)
        log.info("unloaded every ControlNet")

    # -- internals --------------------------------------------------------------------------------------
    def _prepare_unit(self, unit: ControlUnit, width: int, height: int,
                      canvas: Canvas | None = None) -> tuple[PreparedUnit, Image.Image, str]:
        from diffusers.image_processor import VaeImageProcessor

        if self._map_processor is None:  # the same conversion diffusers' pipeline applies to control images
            self._map_processor = VaeImageProcessor(vae_scale_factor=8, do_convert_rgb=True, do_normalize=False)
        model_id, net = self.controlnets.get(unit.condition, unit.model)
        fitted = fit_map(canvas.crop_map(unit.image) if canvas else unit.image, width, height, unit.resize_mode)
        tensor = self._map_processor.preprocess(fitted, height=height, width=width).to(self.base.device, torch.float32)
        control_type = union_type(net.config, unit.condition)
        if unit.condition == "inpaint" and canvas is not None and canvas.mask is not None:
            tensor = mark_masked(tensor, canvas.mask, union=control_type is not None)
        prepared = PreparedUnit(net, tensor, float(unit.weight), float(unit.guidance_start), float(unit.guidance_end),
                                unit.control_mode, control_type, bool(net.config.get("global_pool_conditions")))
        return prepared, fitted, model_id

    def _run(self, request: GenerationRequest, cells, on_step, cancel, save: bool = True,
             prompts: dict | None = None) -> list[GenerationResult]:
        """Render under the lock; out of GPU memory, evict the ControlNets this job does not use and try once more."""
        with self._lock:
            try:
                retry = False
                try:
                    bookkeeping, images = self._render(request, cells, on_step, cancel, prompts)
                except torch.OutOfMemoryError:
                    if not self._evict_idle_controlnets(cells):
                        raise
                    retry = True  # retried outside the handler, so the failed attempt's tensors can be freed first
                if retry:
                    free_memory(self.base.device)
                    log.warning("out of GPU memory: evicted idle ControlNets, rendering again")
                    bookkeeping, images = self._render(request, cells, on_step, cancel, prompts)
            except JobCancelled:
                if cancel is None:
                    raise
                raise cancel.stopped() from None  # says whether Stop or the time limit ended it
            except torch.OutOfMemoryError as error:
                free_memory(self.base.device)
                hint = "" if self.offload else " or restart with --cpu-offload"
                raise GenerationError(f"The GPU ran out of memory; try a smaller size, a smaller batch or fewer units{hint}.") from error
            finally:
                if self.offload:
                    self.offload.release()
                return_heap()
        return self._results(bookkeeping, images, save)

    def _render(self, request: GenerationRequest, cells, on_step, cancel, prompts: dict | None = None):
        """Encode the prompt once (`prompts` keeps encodings across a matrix's batches), denoise every (cell, seed) row
        in batches, decode."""
        base = self.base
        prompts = {} if prompts is None else prompts
        key = (request.prompt, request.negative_prompt)
        if key not in prompts:
            prompts[key] = encode_prompts(base, request.prompt, request.negative_prompt)
        embeds = prompts[key]
        canvas = make_canvas(request) if request.img2img else None
        init = None if canvas is None else encode_canvas(base.vae, canvas, request.denoising_strength,
                                                         request.masked_content, base.device, base.dtype)
        rows, bookkeeping = [], []
        for cell_request, units, seeds in cells:
            prepared = [self._prepare_unit(unit, request.width, request.height, canvas) for unit in units]
            first = [p[0] for p, unit in zip(prepared, units) if unit.hr_option != "High res only"]
            hires = None
            if request.enable_hr:  # sd-webui-controlnet's hr_option: which passes each unit steers
                hires = [self._prepare_unit(unit, *request.hires_size)[0] for unit in units if unit.hr_option != "Low res only"]
            for seed in seeds:
                generator = torch.Generator(device="cpu").manual_seed(seed)
                rows.append(Row(generator, first, seed, hires))
            bookkeeping.append((cell_request, prepared, seeds))
        passes = Passes(base, request, embeds, max(self.matrix_batch, request.batch_size), init)
        with self.draft.active(request.draft):
            latents = run_passes(passes, rows, self._reporter(on_step), (lambda: cancel.cancelled) if cancel else None, cancel)
        images = decode_latents(self.base.vae, latents, cancel)
        return bookkeeping, [canvas.finish(image) for image in images] if canvas else images

    def _reporter(self, on_step: StepCallback | None):
        """The job's steps as StepUpdates, with preview images every `preview_every` steps."""
        if on_step is None:
            return None

        def report(step: int, total: int, latents: torch.Tensor) -> None:
            show = self.preview_every and step % self.preview_every == 0 and step < total
            on_step(StepUpdate(step, total, self.previews.decode(latents) if show else None))

        return report

    def _evict_idle_controlnets(self, cells) -> bool:
        """Resident ControlNets are a cache: when memory runs short, the ones this job does not need go first."""
        needed = {self.controlnets.model_id(unit.condition, unit.model) for _, units, _ in cells for unit in units}
        return self.controlnets.keep_only(needed) > 0

    def _results(self, bookkeeping, images: list[Image.Image], save: bool = True) -> list[GenerationResult]:
        results, cursor = [], 0
        for cell_request, prepared, seeds in bookkeeping:
            # record the ControlNet each unit really used (an operator's override or the v1.1 default included)
            used = tuple(replace(unit, model=p[2]) for unit, p in zip(cell_request.units, prepared))
            cell_request = replace(cell_request, units=used)
            cell_images, infotexts, notes = [], [], []
            for seed in seeds:
                text = build_infotext(replace(cell_request, seed=seed), self.base.name, self.base.architecture,
                                      tuple(p[0].control_type for p in prepared))
                image = with_parameters(images[cursor], text)
                cursor += 1
                _, problem = self.writer.save(image, seed) if save else (None, None)
                if problem and problem not in notes:
                    notes.append(problem)
                cell_images.append(image)
                infotexts.append(text)
            results.append(GenerationResult(images=cell_images, seeds=list(seeds), maps=[p[1] for p in prepared],
                                            infotexts=infotexts, request=cell_request, notes=notes))
        return results
