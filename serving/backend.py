"""The one interface the studio (and so every surface) uses to reach the engine and the preprocessors, wherever they
run: generate, matrix, preprocess, status, readiness, and the operator's unload and switch. Cancel travels in the
CancelToken each job carries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PIL import Image

from pipelines.cancel import CancelToken
from pipelines.engine import StepUpdate
from pipelines.lazy import EngineState
from pipelines.requests import GenerationRequest, GenerationResult
from preprocessors.runner import PreprocessorStatus

StepCallback = Callable[[StepUpdate], None]
CellCallback = Callable[[int, GenerationResult], None]
class ServerBusy(RuntimeError):
    """Every replica is busy and the queue in front of them is full; the message says to try again."""


Need = tuple[str, str]  # ("download" | "cannot run" | "later", the sentence): what a ControlNet needs before a run


class Backend(Protocol):
    @property
    def state(self) -> EngineState:
        """Loading, ready or failed (with what to do): the banner's line."""

    @property
    def offline(self) -> bool:
        """True when missing weights cannot be downloaded now (offline by choice, or the hub does not answer)."""

    @property
    def offline_reason(self) -> str:
        """Why, as the end of a sentence ("this server is offline")."""

    @property
    def jobs_at_once(self) -> int:
        """How many engine jobs can run side by side (the queue's limit for the GPU group): one per replica."""

    def generate(self, request: GenerationRequest, on_step: StepCallback | None = None, cancel: CancelToken | None = None,
                 save: bool = True) -> GenerationResult: ...

    def matrix(self, cells: list[GenerationRequest], on_step: StepCallback | None = None, cancel: CancelToken | None = None,
               save: bool = True, on_cell: CellCallback | None = None) -> list[GenerationResult]: ...

    def preprocess(self, module: str, image: Image.Image, processor_res: int = 512, threshold_a: float | None = None,
                   threshold_b: float | None = None) -> Image.Image: ...

    def poses(self, module: str, image: Image.Image, processor_res: int = 512) -> dict | None:
        """OpenPose JSON of the people an OpenPose module finds; None for other modules."""

    def weights_state(self, module: str) -> PreprocessorStatus: ...

    def preprocessor_states(self) -> list[PreprocessorStatus]: ...

    def load_controlnet(self, condition: str, model: str | None) -> None:
        """Load (or find resident) the ControlNet a unit would use; raises ModelLoadError with the fix."""

    def controlnet_needs(self, condition: str, model: str | None) -> list[Need]: ...

    def status(self) -> dict[str, object]:
        """What the Models tab shows: model, device, dtype, resident ControlNets, memory."""

    def unload(self) -> None: ...

    def switch(self, model: str) -> None: ...
