"""What every tab and API endpoint does, in plain Python: uploads -> preprocessors -> engine."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from pipelines.controlnets import CONDITIONS
from pipelines.engine import CancelToken, StepUpdate
from pipelines.lazy import LazyEngine
from pipelines.limits import Limits
from pipelines.loading import PICKLE_SUFFIXES
from pipelines.requests import ControlUnit, GenerationRequest, GenerationResult, RequestError
from preprocessors import Preprocessors, get_spec, pixel_perfect_resolution
from ui.grid import labelled_grid
from ui.uploads import open_upload

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

    def control_map(self, image: object, module: str, processor_res: int = 512,
                    threshold_a: float | None = None, threshold_b: float | None = None) -> Image.Image:
        """The map a preprocessor makes of an upload (what /preprocess and the preview show)."""
        picture = open_upload(image)
        if picture is None:
            raise RequestError("Upload a control image first.")
        return self.annotators.run(module, picture, processor_res=int(processor_res), threshold_a=threshold_a, threshold_b=threshold_b)

    def checked_model(self, model: str) -> str | None:
        """A user-chosen ControlNet: a hub id, or a .safetensors/folder inside the allowed model folders."""
        model = (model or "").strip()
        if not model:
            return None
        if _HUB_ID.match(model) and ".." not in model and not Path(model).exists():
            return model
        path = Path(model).expanduser().resolve()
        if path.suffix.lower() in PICKLE_SUFFIXES:
            raise RequestError(f"{model} is a pickle checkpoint, which can run code; use a .safetensors file.")
        if not any(path.is_relative_to(root.resolve()) for root in self.model_roots):
            allowed = ", ".join(str(root) for root in self.model_roots) or "none configured"
            raise RequestError(f"{model} is outside the model folders this server allows ({allowed}); use a hub id or a file there.")
        return str(path)

    def build_unit(self, unit: UnitSettings, width: int, height: int) -> ControlUnit | None:
        """Run the unit's preprocessor (unless its upload already is a map) and fix its condition."""
        if not unit.enabled:
            return None
        picture = open_upload(unit.image)
        if picture is None:
            return None
        spec = get_spec(unit.module)
        condition = unit.condition if unit.condition and unit.condition != "auto" else (spec.condition or "")
        if condition not in CONDITIONS:
            raise RequestError(f"Choose which ControlNet the {unit.module!r} map is for (one of {', '.join(CONDITIONS)}).")
        resolution = int(unit.processor_res)
        if unit.pixel_perfect:
            resolution = pixel_perfect_resolution(picture.size, int(width), int(height), unit.resize_mode)
        control = self.annotators.run(unit.module, picture, processor_res=resolution,
                                      threshold_a=unit.threshold_a, threshold_b=unit.threshold_b)
        return ControlUnit(
            image=control, condition=condition, module=unit.module, model=self.checked_model(unit.model),
            weight=unit.weight, guidance_start=unit.guidance_start, guidance_end=unit.guidance_end,
            control_mode=unit.control_mode, resize_mode=unit.resize_mode, processor_res=resolution,
            threshold_a=unit.threshold_a, threshold_b=unit.threshold_b, pixel_perfect=bool(unit.pixel_perfect),
        )

    def request(self, settings: Settings, units: tuple[ControlUnit, ...] = ()) -> GenerationRequest:
        return GenerationRequest(
            prompt=settings.prompt, negative_prompt=settings.negative_prompt, units=units, steps=settings.steps,
            cfg_scale=settings.cfg_scale, sampler=settings.sampler, seed=settings.seed, width=settings.width,
            height=settings.height, batch_size=settings.batch_size, draft=settings.draft,
        )

    def generate(self, settings: Settings, units: list[UnitSettings], on_step: Callable[[StepUpdate], None] | None = None,
                 cancel: CancelToken | None = None) -> GenerationResult:
        built = tuple(u for u in (self.build_unit(unit, settings.width, settings.height) for unit in units) if u is not None)
        return self.engine.get().generate(self.request(settings, built), on_step=on_step, cancel=cancel)

    def compare(self, settings: Settings, template: UnitSettings, modules: list[str],
                on_step: Callable[[StepUpdate], None] | None = None, cancel: CancelToken | None = None
                ) -> tuple[list[GenerationResult], Image.Image]:
        """One upload, several preprocessors, same prompt/seed: results per condition and a labelled grid."""
        if not modules:
            raise RequestError("Tick at least one condition to compare.")
        if len(modules) > 12:
            raise RequestError("Compare at most 12 conditions at once.")
        units = []
        for module in modules:
            unit = self.build_unit(UnitSettings(**{**template.__dict__, "module": module, "enabled": True}), settings.width, settings.height)
            if unit is None:
                raise RequestError("Upload a control image to compare conditions on.")
            units.append(unit)
        results = self.engine.get().compare(self.request(settings), units, on_step=on_step, cancel=cancel)
        grid = labelled_grid([(module, [result.maps[0], *result.images]) for module, result in zip(modules, results)])
        return results, grid
