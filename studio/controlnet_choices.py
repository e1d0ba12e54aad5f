"""The ControlNets a unit can pick, as A1111 lists them in its Model dropdown: what this server has or would fetch."""

from __future__ import annotations

from pathlib import Path

from pipelines.architectures import KNOWN_CONTROLNETS, Architecture

MAX_LISTED_FILES = 200  # a models folder with thousands of files must not make a dropdown that long


def controlnet_choices(model_roots: list[Path], overrides: dict[str, str], architecture: Architecture | None = None) -> list[str]:
    """"" first (the condition's default), then the known ones (of `architecture` once the model is loaded, else
    SD1.5's v1.1, SDXL's union and single-condition ones), the operator's, then each .safetensors file or diffusers
    folder in the allowed model folders: the value shown is the value used, as Send to Generate writes it back."""
    known = KNOWN_CONTROLNETS if architecture is None else [*architecture.controlnets.values(), *architecture.alternatives]
    choices = [""]
    for model in [*known, *overrides.values(), *map(str, _model_files(model_roots))]:
        if model not in choices:
            choices.append(model)
    return choices


def _model_files(roots: list[Path]) -> list[Path]:
    """.safetensors files and diffusers ControlNet folders (a config.json beside weights), up to MAX_LISTED_FILES."""
    found: list[Path] = []
    for root in roots:
        root = Path(root).expanduser().resolve()
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if len(found) >= MAX_LISTED_FILES:
                return found
            if path.is_file() and path.suffix == ".safetensors" and not (path.parent / "config.json").exists():
                found.append(path)
            elif path.is_dir() and (path / "config.json").exists():
                found.append(path)
    return found
