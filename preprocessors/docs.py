"""The README's preprocessor table, generated from the registry so it cannot drift."""

from __future__ import annotations

from preprocessors.registry import SPECS


def markdown_table(controlnets: dict[str, str]) -> str:
    """`controlnets` maps condition -> ControlNet hub id (passed in: this package does not import the engine)."""
    lines = [
        "| preprocessor | family | ControlNet | weight file(s) | size |",
        "|---|---|---|---|---|",
    ]
    for spec in SPECS:
        controlnet = controlnets.get(spec.condition or "", "you choose (the upload is the map)")
        if spec.weights is None:
            files, size = "none", "—"
        else:
            files = ", ".join(f"`{spec.weights.repo}/{name}`" for name in spec.weights.filenames)
            size = f"{spec.weights.size_mb:g} MB"
        lines.append(f"| `{spec.name}` | {spec.family} | `{controlnet}` | {files} | {size} |")
    return "\n".join(lines) + "\n"


def document(controlnets: dict[str, str]) -> str:
    """The whole docs/preprocessors.md."""
    return (
        "# Preprocessors\n\n"
        "Generated from `preprocessors/registry.py` by `preprocessors.docs.document()`; a test keeps it current.\n"
        "Weights are fetched once into the Hugging Face cache (the Models tab shows the exact `hf download` command\n"
        "for anything missing). `lineart_anime_denoise`: A1111 runs a separate MangaLine network here, which\n"
        "controlnet-aux does not ship; we apply an edge-preserving denoise before the anime line network instead.\n\n"
        + markdown_table(controlnets)
    )
