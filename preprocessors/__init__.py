"""Condition preprocessors (controlnet-aux and friends). Knows nothing of Gradio or of the engine."""

from preprocessors.normalise import normalise_image
from preprocessors.registry import (
    FAMILIES,
    MAP_FAMILIES,
    POSE_DETECTORS,
    SPECS,
    ParamSpec,
    PreprocessorError,
    PreprocessorSpec,
    WeightSpec,
    families,
    get_spec,
    names,
    resolve_thresholds,
)
from preprocessors.runner import Preprocessors, PreprocessorStatus, pixel_perfect_resolution

__all__ = [
    "FAMILIES", "MAP_FAMILIES", "POSE_DETECTORS", "SPECS", "ParamSpec", "PreprocessorError", "PreprocessorSpec", "PreprocessorStatus", "Preprocessors",
    "WeightSpec", "families", "get_spec", "names", "normalise_image", "pixel_perfect_resolution",
    "resolve_thresholds",
]
