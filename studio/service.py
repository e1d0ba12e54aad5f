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

from pipelines.architectures import ARCHITECTURES, CONDITIONS, KNOWN_CONTROLNETS, Architecture
from pipelines.axes import Axis
from pipelines.engine import CancelToken, StepUpdate
from pipelines.limits import Limits
from pipelines.loading import PICKLE_SUFFIXES
from pipelines.requests import (
    AUTO,
    ControlUnit,
    GenerationRequest,
    GenerationResult,
    RequestError,
    check_budget,
    check_matrix_budget,
    check_pictures,
    check_settings,
    check_unit_settings,
)
from preprocessors import POSE_DETECTORS, get_spec, pixel_perfect_resolution, resolve_thresholds
from serving import Backend
from studio.columns import parse_columns
from studio.matrix import (
    NO_AXIS,
    Matrix,
    build_matrix,
    cell_request,
    check_prompt_sr,
    column_maps,
    controlnet_failures,
    without_failed,
)
from studio.uploads import open_upload

log = logging.getLogger(__name__)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass
class Studio:
    """The backend, the server's limits and the rules for user-supplied model paths, wired once by app.py."""

    backend: Backend  # where the engine and the preprocessors run (this process, or Ray Serve replicas)
    limits: Limits
    model_roots: list[Path] = field(default_factory=list)
    controlnet_overrides: dict[str, str] = field(default_factory=dict)
    any_hub_model: bool = False  # the operator's opt-in to let users name any hub repo (the server downloads it)
    keep_copies: bool = True  # save results to --outputs unless the visitor says otherwise (off by default when shared)
    # As many jobs as the backend runs at once (one per replica; one in-process), each held from its first preprocessor
    # run to its last decoded image. Gradio frees a caller's queue slot before an abandoned job's worker has stopped,
    # so without this the next job's map work overlapped it.
    _job_slots: threading.BoundedSemaphore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._job_slots = threading.BoundedSemaphore(self.backend.jobs_at_once)

    def architecture(self) -> Architecture:
        """The loaded model's architecture (SD1.5's until one is loaded): its ControlNets, sizes and names."""
        return ARCHITECTURES[self.backend.state.architecture]

    def control_map(self, image: object, module: str, processor_res: int = 512,
                    threshold_a: float | None = None, threshold_b: float | None = None) -> Image.Image:
        """The map a preprocessor makes of an upload (what /preprocess and the preview show)."""
        picture = open_upload(image)
        if picture is None:
            raise RequestError("Upload a control image first.")
        return self.backend.preprocess(module, picture, processor_res=processor_res, threshold_a=threshold_a,
                                       threshold_b=threshold_b)

    def poses(self, image: object, module: str, processor_res: int = 512) -> dict | None:
        """The people an OpenPose module finds in an upload, as OpenPose JSON (None for other modules, which are asked
        on every map preview: answered here, before decoding the upload or a round trip to a replica)."""
        if get_spec(module).detector not in POSE_DETECTORS:
            return None
        picture = open_upload(image)
        if picture is None:
            raise RequestError("Upload a control image first.")
        return self.backend.poses(module, picture, processor_res=processor_res)

    def checked_model(self, model: str) -> str | None:
        """A user-chosen ControlNet: a hub id, or a .safetensors/folder inside the allowed model folders."""
        model = (model or "").strip()
        if not model:
            return None
        if model in self.controlnet_overrides.values():  # the operator's own choice, as a PNG made here records it
            return model
        if _HUB_ID.match(model) and ".." not in model and not Path(model).exists():
            known = {*KNOWN_CONTROLNETS, *self.controlnet_overrides.values()}
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

    def build_unit(self, unit: ControlUnit, width: int, height: int, index: int = 0,
                   cancel: CancelToken | None = None) -> ControlUnit | None:
        """Check the unit's settings, then run its preprocessor (unless its upload already is a map); the unit returned
        holds what was used: the map, the condition, family, resolution and thresholds after defaults."""
        picture = open_upload(unit.image)
        if picture is None:
            return None
        checked = check_unit_settings(replace(unit, image=None), index, self.limits)
        spec = get_spec(checked.module)
        made_for = _edited_source(checked, index) or spec  # an edited map is for its preprocessor's condition
        condition = made_for.condition if checked.condition == AUTO else checked.condition
        if condition is None:
            raise RequestError(f"Choose which ControlNet the {checked.module!r} map is for (one of {', '.join(CONDITIONS)}).")
        if checked.family and checked.family != spec.family:
            raise RequestError(f"{checked.module} is a {spec.family} preprocessor, not {checked.family}; pick it from its own family.")
        model = self.checked_model(checked.model)
        resolution = checked.processor_res
        if checked.pixel_perfect:
            resolution = pixel_perfect_resolution(picture.size, width, height, checked.resize_mode)
        if cancel is not None:
            cancel.raise_if_cancelled()
        threshold_a, threshold_b = resolve_thresholds(spec, checked.threshold_a, checked.threshold_b)
        control = self.backend.preprocess(checked.module, picture, processor_res=resolution, threshold_a=threshold_a,
                                          threshold_b=threshold_b)
        return replace(checked, image=control, condition=condition, family=spec.family, model=model,
                       processor_res=resolution, threshold_a=threshold_a, threshold_b=threshold_b)

    def _checked(self, request: GenerationRequest, cells: int, cancel: CancelToken | None) -> tuple[GenerationRequest, CancelToken]:
        """Everything that can be refused is refused here, before any preprocessor or model work; the job gets its clock."""
        request = check_settings(request, self.limits)
        request = replace(request, init_image=open_upload(request.init_image), mask=open_upload(request.mask))
        check_pictures(request)
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
        """Hold a job slot; the log's `job started` / `job ended` lines show how many jobs run at once."""
        with self._job_slots:
            log.info("job started: %s", kind)
            try:
                yield
            finally:
                log.info("job ended: %s", kind)

    def generate(self, request: GenerationRequest, on_step: Callable[[StepUpdate], None] | None = None,
                 cancel: CancelToken | None = None, keep_copy: bool | None = None) -> GenerationResult:
        """A request whose units hold raw uploads: each is preprocessed, then the engine runs them all."""
        request, cancel = self._checked(request, 1, cancel)
        with self._one_job("generate"):
            built = tuple(u for u in (self.build_unit(unit, request.width, request.height, index, cancel)
                                      for index, unit in enumerate(request.units)) if u is not None)
            return self.backend.generate(replace(request, units=built), on_step=on_step, cancel=cancel,
                                         save=self._keep(keep_copy))

    def compare(self, request: GenerationRequest, template: ControlUnit, columns: list, axis: Axis = NO_AXIS,
                on_step: Callable[[StepUpdate], None] | None = None, cancel: CancelToken | None = None,
                keep_copy: bool | None = None, on_cell: Callable[[int, GenerationResult], None] | None = None) -> Matrix:
        """The XY matrix: columns of conditions (or combinations, each unit with its own settings) crossed with one
        setting's values, same prompt and seed; every cell a request the engine can batch. Everything refusable is
        refused before any preprocessing; a column whose preprocessor or ControlNet cannot load says so in its cells."""
        parsed = parse_columns(columns, self.limits)
        count = len(parsed) * len(axis.values)
        if count > self.limits.max_matrix_cells:
            raise RequestError(f"This matrix has {len(parsed)} columns x {len(axis.values)} rows = {count} cells; this server "
                               f"allows {self.limits.max_matrix_cells}. Drop some columns or values.")
        request, cancel = self._checked(replace(request, units=()), 1, cancel)
        check_prompt_sr(request, axis)
        check_matrix_budget([cell_request(request, axis, value, ()) for value in axis.values for _ in parsed], self.limits)
        with self._one_job("compare"):
            cells, failures = build_matrix(request, template, parsed, axis, lambda unit, index: self.build_unit(
                unit, request.width, request.height, index, cancel))
            failures |= controlnet_failures(self.backend, cells, len(parsed), failures)
            cells = without_failed(cells, len(parsed), failures)
            runnable = [index for index, cell in enumerate(cells) if cell is not None]
            if not runnable:
                raise RequestError(next(iter(failures.values())))
            done = self.backend.matrix([cells[index] for index in runnable], on_step=on_step, cancel=cancel,
                                       save=self._keep(keep_copy),
                                       on_cell=on_cell and (lambda number, result: on_cell(runnable[number], result)))
        results: list[GenerationResult | None] = [None] * len(cells)
        for index, result in zip(runnable, done):
            results[index] = result
        size = (request.width, request.height)
        return Matrix(columns=[column.label for column in parsed], axis=axis, cells=results, failures=failures, size=size,
                      maps=column_maps(results[:len(parsed)], size, failures))


def _edited_source(unit: ControlUnit, index: int):
    """The preprocessor an edited map came from (None when the map was not edited); the map itself is the image."""
    if not unit.edited_from:
        return None
    if unit.module != "none":
        raise RequestError(f"ControlNet unit {index} has an edited map (from {unit.edited_from}) but module {unit.module}; "
                           "an edited map is passed as the image with module none.")
    return get_spec(unit.edited_from)
