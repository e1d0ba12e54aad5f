"""The engine and the preprocessors in this process: what runs without --ray."""

from __future__ import annotations

from PIL import Image

from pipelines.cancel import CancelToken
from pipelines.controlnets import controlnet_needs
from pipelines.lazy import EngineState, LazyEngine
from pipelines.requests import GenerationRequest, GenerationResult
from preprocessors import Preprocessors
from preprocessors.runner import PreprocessorStatus
from serving.backend import CellCallback, Need, StepCallback


class LocalBackend:
    def __init__(self, engine: LazyEngine, annotators: Preprocessors):
        self.engine = engine
        self.annotators = annotators

    @property
    def state(self) -> EngineState:
        return self.engine.state

    @property
    def jobs_at_once(self) -> int:
        return 1  # one accelerator, one job

    @property
    def offline(self) -> bool:
        return self.annotators.offline

    @property
    def offline_reason(self) -> str:
        return self.annotators.hub.reason()

    def generate(self, request: GenerationRequest, on_step: StepCallback | None = None, cancel: CancelToken | None = None,
                 save: bool = True) -> GenerationResult:
        return self.engine.get().generate(request, on_step=on_step, cancel=cancel, save=save)

    def matrix(self, cells: list[GenerationRequest], on_step: StepCallback | None = None, cancel: CancelToken | None = None,
               save: bool = True, on_cell: CellCallback | None = None) -> list[GenerationResult]:
        return self.engine.get().matrix(cells, on_step=on_step, cancel=cancel, save=save, on_cell=on_cell)

    def preprocess(self, module: str, image: Image.Image, processor_res: int = 512, threshold_a: float | None = None,
                   threshold_b: float | None = None) -> Image.Image:
        return self.annotators.run(module, image, processor_res=processor_res, threshold_a=threshold_a, threshold_b=threshold_b)

    def poses(self, module: str, image: Image.Image, processor_res: int = 512) -> dict | None:
        return self.annotators.poses(module, image, processor_res=processor_res)

    def weights_state(self, module: str) -> PreprocessorStatus:
        return self.annotators.weights_state(module)

    def preprocessor_states(self) -> list[PreprocessorStatus]:
        return self.annotators.status()

    def load_controlnet(self, condition: str, model: str | None) -> None:
        self.engine.get().controlnets.get(condition, model)

    def controlnet_needs(self, condition: str, model: str | None) -> list[Need]:
        if self.engine.state.phase != "ready":
            return [("later", "")]
        engine = self.engine.get()
        return controlnet_needs(engine.controlnets, engine.base.is_tiny, condition, model, self.annotators.hub)

    def status(self) -> dict[str, object]:
        return self.engine.get().status() if self.engine.state.phase == "ready" else {}

    def unload(self) -> None:
        if self.engine.state.phase == "ready":
            self.engine.get().unload_controlnets()
        self.annotators.unload()

    def switch(self, model: str) -> None:
        self.engine.switch(model)
