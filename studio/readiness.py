"""Before a run, what each matrix column needs: nothing (ready), a download (which files, how big), or why it cannot
run here, so an artist sees it before waiting for the run to find out."""

from __future__ import annotations

from pipelines.requests import AUTO
from preprocessors import get_spec
from studio import Studio
from studio.columns import Column


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
    offline = studio.backend.offline
    needs = []
    state = studio.backend.weights_state(unit.module)
    if state.state == "missing":
        files = f"{state.repo} {', '.join(state.files)} (~{spec.weights.size_mb:g} MB)"
        needs.append(("cannot run", f"{unit.module} needs {files}; {studio.backend.offline_reason}. Fetch with `{state.command}`.")
                     if offline else ("download", files))
    condition = unit.settings.get("condition", AUTO)
    condition = spec.condition if condition == AUTO else condition
    needs.extend(studio.backend.controlnet_needs(str(condition), unit.settings.get("model")))
    return needs
