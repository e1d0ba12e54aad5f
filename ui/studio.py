"""What every tab and API endpoint does, in plain Python: uploads -> preprocessors -> engine."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from PIL import Image

from pipelines.controlnets import CONDITIONS, CONTROLNET_MODELS
from pipelines.engine import CancelToken, StepUpdate
from pipelines.lazy import LazyEngine
from pipelines.limits import Limits
from pipelines.loading import PICKLE_SUFFIXES
from pipelines.requests import (
    ControlUnit,
    GenerationRequest,
    GenerationResult,
    RequestError,
    check_budget,
    check_settings,
    check_unit_settings,
)
from preprocessors import Preprocessors, get_spec, pixel_perfect_resolution, resolve_thresholds
from ui.grid import labelled_grid
from ui.uploads import open_upload

log = logging.getLogger(__name__)
MAX_COMPARE = 12
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class UnitSettings:
    """One ControlNet unit as the user set it (the image is still the raw upload)."""

    image: object = None
    module: str = "canny"
    condition: str = "auto"
    model: str = ""
    weight: float = 1.0
    guidance_start: float = 0.0
    guidance_end: float = 1.0
    control_mode: str = "Balanced"
    resize_mode: str = "Crop and Resize"
    processor_res: int = 512
    threshold_a: float | None = None
    threshold_b: float | None = None
    pixel_perfect: bool = False
    enabled: bool = True


@dataclass(frozen=True)
class Settings:
    """The non-unit part of a request, shared by Generate and Compare."""

    prompt: str = ""
    negative_prompt: str = ""
    steps: int = 20
    cfg_scale: float = 7.0
    sampler: str = "Euler a"
    seed: int = -1
    width: int = 512
    height: int = 512
    batch_size: int = 1
    draft: bool = False


@dataclass
class Studio:
    """The engine, the preprocessors and the rules for user-supplied model paths, wired once by app.py."""

    engine: LazyEngine
    annotators: Preprocessors
    limits: Limits
    model_roots: list[Path] = field(default_factory=list)
    controlnet_overrides: dict[str, str] = field(default_factory=dict)
    any_hub_model: bool = False  # the operator's opt-in to let users name any hub repo (the server downloads it)
    keep_copies: bool = True  # save results to --outputs unless the visitor says otherwise (off by default when shared)
    # One job at a time from its first preprocessor run to its last decoded image. Gradio frees a caller's queue slot
    # before an abandoned job's worker has stopped, so without this the next job's map work overlapped it.
    _job_slot: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def control_map(self, image: object, module: str, processor_res: int = 512,
                    threshold_a: float | None = None, threshold_b: float | None = None) -> Image.Image:
        """The map a preprocessor makes of an upload (what /preprocess and the preview show)."""
        picture = open_upload(image)
        if picture is None:
            raise RequestError("Upload a control image first.")
        return self.annotators.run(module, picture, processor_res=processor_res, threshold_a=threshold_a, threshold_b=threshold_b)

    def checked_model(self, model: str) -> str | None:
        """A user-chosen ControlNet: a hub id, or a .safetensors/folder inside the allowed model folders."""
        model = (model or "").strip()
        if not model:
            return None
        if _HUB_ID.match(model) and ".." not in model and not Path(model).exists():
            known = {*CONTROLNET_MODELS.values(), *self.controlnet_overrides.values()}
            if model not in known and not self.any_hub_model:
                raise RequestError(f"{model} is not one of this server's ControlNets; use a v1.1 default, a file in an allowed "
                                   "model folder, or ask the operator to start the app with --allow-hub-models.")
            return model
        path = Path(model).expanduser().resolve()
        if path.suffix.lower() in PICKLE_SUFFIXES:
            raise RequestError(f"{model} is a pickle checkpoint, which can run code; use a .safetensors file.")
        if not any(path.is_relative_to(root.resolve()) for root in self.model_roots):
            allowed = ", ".join(str(root) for root in self.model_roots) or "none configured"
            raise RequestError(f"{model} is outside the model folders this server allows ({allowed}); use a hub id or a file there.")
        return str(path)

    def build_unit(self, unit: UnitSettings, width: int, height: int, index: int = 0,
                   cancel: CancelToken | None = None) -> ControlUnit | None:
        """Check the unit's settings, then run its preprocessor (unless its upload already is a map)."""
        if unit.enabled is not True:
            return None
        picture = open_upload(unit.image)
        if picture is None:
            return None
        spec = get_spec(unit.module)
        condition = unit.condition if unit.condition and unit.condition != "auto" else (spec.condition or "")
        if condition not in CONDITIONS:
            raise RequestError(f"Choose which ControlNet the {unit.module!r} map is for (one of {', '.join(CONDITIONS)}).")
        checked = check_unit_settings(ControlUnit(
            image=None, condition=condition, module=unit.module, model=self.checked_model(unit.model),
            weight=unit.weight, guidance_start=unit.guidance_start, guidance_end=unit.guidance_end,
            control_mode=unit.control_mode, resize_mode=unit.resize_mode, processor_res=unit.processor_res,
            threshold_a=unit.threshold_a, threshold_b=unit.threshold_b, pixel_perfect=unit.pixel_perfect,
        ), index, self.limits)
        resolution = checked.processor_res
        if checked.pixel_perfect:
            resolution = pixel_perfect_resolution(picture.size, width, height, checked.resize_mode)
        if cancel is not None:
            cancel.raise_if_cancelled()
        # the infotext records the thresholds used, defaults included, so the PNG says exactly what made it
        threshold_a, threshold_b = resolve_thresholds(spec, checked.threshold_a, checked.threshold_b)
        control = self.annotators.run(unit.module, picture, processor_res=resolution, threshold_a=threshold_a,
                                      threshold_b=threshold_b)
        return replace(checked, image=control, processor_res=resolution, threshold_a=threshold_a, threshold_b=threshold_b)

    def request(self, settings: Settings, units: tuple[ControlUnit, ...] = ()) -> GenerationRequest:
        return GenerationRequest(
            prompt=settings.prompt, negative_prompt=settings.negative_prompt, units=units, steps=settings.steps,
            cfg_scale=settings.cfg_scale, sampler=settings.sampler, seed=settings.seed, width=settings.width,
            height=settings.height, batch_size=settings.batch_size, draft=settings.draft,
        )

    def _checked(self, settings: Settings, cells: int, cancel: CancelToken | None) -> tuple[GenerationRequest, CancelToken]:
        """Everything that can be refused is refused here, before any preprocessor or model work; the job gets its clock."""
        request = check_settings(self.request(settings), self.limits)
        check_budget(request, cells, self.limits)
        cancel = cancel or CancelToken()
        cancel.limit_time(self.limits.max_job_seconds)
        return request, cancel

    def _keep(self, keep_copy: bool | None) -> bool:
        """The visitor's choice of a copy in the server's outputs folder, else the server's default."""
        if keep_copy is None:
            return self.keep_copies
        if not isinstance(keep_copy, bool):
            raise RequestError(f"keep_copy must be true or false, got {keep_copy!r}.")
        return keep_copy

    @contextmanager
    def _one_job(self, kind: str) -> Iterator[None]:
        """Hold the job slot; the log's `job started` / `job ended` lines always alternate."""
        with self._job_slot:
            log.info("job started: %s", kind)
            try:
                yield
            finally:
                log.info("job ended: %s", kind)

    def generate(self, settings: Settings, units: list[UnitSettings], on_step: Callable[[StepUpdate], None] | None = None,
                 cancel: CancelToken | None = None, keep_copy: bool | None = None) -> GenerationResult:
        request, cancel = self._checked(settings, 1, cancel)
        if len(units) > self.limits.max_units:
            raise RequestError(f"At most {self.limits.max_units} ControlNet units can be used at once; got {len(units)}.")
        with self._one_job("generate"):
            built = tuple(u for u in (self.build_unit(unit, request.width, request.height, index, cancel)
                                      for index, unit in enumerate(units)) if u is not None)
            return self.engine.get().generate(replace(request, units=built), on_step=on_step, cancel=cancel,
                                              save=self._keep(keep_copy))

    def compare(self, settings: Settings, template: UnitSettings, modules: list[str],
                on_step: Callable[[StepUpdate], None] | None = None, cancel: CancelToken | None = None,
                keep_copy: bool | None = None) -> tuple[list[GenerationResult], Image.Image]:
        """One upload, several preprocessors, same prompt/seed: results per condition and a labelled grid."""
        if not isinstance(modules, (list, tuple)) or not modules:
            raise RequestError("Tick at least one condition to compare.")
        if len(modules) > MAX_COMPARE:
            raise RequestError(f"Compare at most {MAX_COMPARE} conditions at once.")
        request, cancel = self._checked(settings, len(modules), cancel)
        with self._one_job("compare"):
            units = []
            for module in modules:
                unit = self.build_unit(replace(template, module=module, enabled=True), request.width, request.height, 0, cancel)
                if unit is None:
                    raise RequestError("Upload a control image to compare conditions on.")
                units.append(unit)
            results = self.engine.get().compare(request, units, on_step=on_step, cancel=cancel, save=self._keep(keep_copy))
        grid = labelled_grid([(module, [result.maps[0], *result.images]) for module, result in zip(modules, results)])
        return results, grid
