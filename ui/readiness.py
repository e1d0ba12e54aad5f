"""Before a run, what each matrix column needs: nothing (ready), a download (which files, how big), or why it cannot
run here, so an artist sees it before waiting for the run to find out."""

from __future__ import annotations

from pathlib import Path

from pipelines.controlnets import CONTROLNET_MODELS
from pipelines.loading import ModelLoadError, names_a_path
from pipelines.requests import AUTO
from preprocessors import get_spec
from ui.columns import Column
from ui.studio import Studio

CONTROLNET_MB = 1445  # a v1.1 SD1.5 ControlNet's fp32 .safetensors (the fp16 variant is half)


def column_readiness(studio: Studio, columns: list[Column]) -> list[str]:
    """One line per column: `ready`, `downloads …` or `cannot run: …` (the worst of its units' needs)."""
    return [_worst([need for unit in column.units for need in _unit_needs(studio, unit)]) for column in columns]


def _worst(needs: list[tuple[str, str]]) -> str:
    blocked = [text for kind, text in needs if kind == "cannot run"]
    if blocked:
        return "cannot run: " + " ".join(blocked)
    downloads = [text for kind, text in needs if kind == "download"]
    if downloads:
        return "downloads on first run: " + "; ".join(downloads)
    return "ready" if not needs else "preprocessor ready; its ControlNet is checked once the base model has loaded"


def _unit_needs(studio: Studio, unit) -> list[tuple[str, str]]:
    spec = get_spec(unit.module)
    offline = studio.annotators.offline
    needs = []
    state = studio.annotators.weights_state(unit.module)
    if state.state == "missing":
        files = f"{state.repo} {', '.join(state.files)} (~{spec.weights.size_mb:g} MB)"
        needs.append(("cannot run", f"{unit.module} needs {files}; this server is offline. Fetch with `{state.command}`.")
                     if offline else ("download", files))
    condition = unit.settings.get("condition", AUTO)
    condition = spec.condition if condition == AUTO else condition
    needs.extend(_controlnet_needs(studio, str(condition), unit.settings.get("model"), offline))
    return needs


def _controlnet_needs(studio: Studio, condition: str, model: object, offline: bool) -> list[tuple[str, str]]:
    """What the condition's ControlNet needs; unknown until the base model has loaded (it may be the tiny one)."""
    from huggingface_hub import try_to_load_from_cache

    if studio.engine.state.phase != "ready":
        return [("later", "")]
    engine = studio.engine.get()
    try:
        model_id = engine.controlnets.model_id(condition, str(model) if model else None)
    except ModelLoadError as error:
        return [("cannot run", str(error))]
    if model_id in engine.controlnets.resident():
        return []
    if engine.base.is_tiny and model_id == CONTROLNET_MODELS.get(condition):
        return []  # the tiny model brings its own tiny ControlNets
    if Path(model_id).expanduser().exists():
        return []
    if names_a_path(model_id):
        return [("cannot run", f"no ControlNet file or folder at {model_id}.")]
    if isinstance(try_to_load_from_cache(model_id, "config.json"), str):
        return []
    if offline:
        return [("cannot run", f"ControlNet {model_id} is not downloaded and this server is offline. "
                               f"Fetch with `hf download {model_id}`.")]
    return [("download", f"ControlNet {model_id} (~{CONTROLNET_MB / 1000:.1f} GB)")]
