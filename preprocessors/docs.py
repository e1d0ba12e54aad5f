"""The preprocessor table (docs/preprocessors.md, README), generated from the registry so it cannot drift.

The ControlNet ids are passed in (this package never imports the engine); tests compare both files with
these functions, and the same functions rewrite them.
"""

from __future__ import annotations

from preprocessors.registry import SPECS, families

README_START, README_END = "<!-- preprocessor-table:start -->\n", "<!-- preprocessor-table:end -->"


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
    defaults = ", ".join(f"{family} → `{members[0]}`" for family, members in families().items() if family != "Other")
    return (
        "# Preprocessors\n\n"
        "Generated from `preprocessors/registry.py` by `preprocessors.docs.document()`; a test keeps it current.\n"
        "Weights are fetched once into the Hugging Face cache (the Models tab shows the exact `hf download` command\n"
        "for anything missing); offline, nothing is ever downloaded.\n\n"
        f"Each family's first variant is its default:\n{defaults}.\nThese follow A1111's sd-webui-controlnet "
        "filters (Pose defaults to `openpose_full`), except Line_Art, where A1111 picks the weight-free\n"
        "`lineart_standard` and we pick `lineart_realistic`, the annotator the line-art ControlNet was trained on.\n\n"
        "`lineart_anime_denoise` runs MangaLineExtraction (`erika.pth`), a network trained to keep structural\n"
        "lines and drop screentone, as A1111 does; controlnet-aux does not ship it, so `preprocessors/manga_line.py`\n"
        "implements its architecture.\n\n"
        + markdown_table(controlnets)
    )


def with_readme_table(readme: str, controlnets: dict[str, str]) -> str:
    """The README text with its marked table block replaced by the current table."""
    head, rest = readme.split(README_START, 1)
    return head + README_START + markdown_table(controlnets) + README_END + rest.split(README_END, 1)[1]

