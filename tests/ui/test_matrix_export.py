"""What a finished matrix leaves the artist: a ZIP whose every PNG regenerates its cell, a grid whose metadata names
the axes; and, before any run, each column's readiness (ready, a download of which files, or why it cannot run)."""

from __future__ import annotations

import io
import zipfile

import huggingface_hub
import pytest
from PIL import Image

from hub import HubAccess
from pipelines.axes import parse_axis
from pipelines.infotext import parse_infotext
from pipelines.requests import ControlUnit, GenerationRequest
from preprocessors import Preprocessors, get_spec
from serving import LocalBackend
from studio import Studio
from studio.columns import parse_columns
from studio.readiness import column_readiness
from ui.matrix_export import export_matrix
from ui.scratch import Scratch

JOB = dict(prompt="a lighthouse", steps=2, width=64, height=64, sampler="Euler", seed=8, batch_size=2)


def test_the_zip_holds_every_cell_with_its_infotext_and_the_grid_names_the_axes(tiny_studio, drawing_path):
    axis = parse_axis("weight", "0.5, 1", tiny_studio.limits)
    matrix = tiny_studio.compare(GenerationRequest(**JOB), ControlUnit(image=drawing_path),
                                 ["canny", {"module": "canny", "threshold_a": 40}], axis, keep_copy=False)
    grid, archive = export_matrix(matrix, Scratch("studio-test-export-"))
    assert grid.name.endswith("matrix-seed8.png") and archive.name.endswith("matrix-seed8-cells.zip")
    with zipfile.ZipFile(archive) as zipped:
        names = sorted(zipped.namelist())
        expected = {f"r{row}-c{column}-{label}-seed{seed}.png" for row in (1, 2)
                    for column, label in ((1, "canny"), (2, "canny-a-40")) for seed in (8, 9)}
        assert set(names) == expected | {"map-c1-canny.png", "map-c2-canny-a-40.png"}
        texts = {name: Image.open(io.BytesIO(zipped.read(name))).info.get("parameters") for name in expected}
    cells = {(index // 2 + 1, index % 2 + 1): cell for index, cell in enumerate(matrix.cells)}
    for (row, column), cell in cells.items():
        for image_index, seed in enumerate((8, 9)):
            name = next(name for name in expected if name.startswith(f"r{row}-c{column}-") and name.endswith(f"seed{seed}.png"))
            assert texts[name] == cell.infotexts[image_index]
            assert parse_infotext(texts[name]).params["Seed"] == str(seed)
    parameters = Image.open(grid).info["parameters"]
    assert parameters.startswith(matrix.cells[0].infotexts[0])
    fields = parse_infotext(parameters).params
    assert fields["XY columns"] == "canny | canny (a 40)" and fields["XY rows"] == "weight: 0.5, 1"


@pytest.fixture
def empty_cache(monkeypatch):
    """Readiness as on a server whose hub cache holds no annotator and no ControlNet file."""
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *args, **kwargs: None)


@pytest.mark.parametrize("offline", [True, False])
def test_each_column_says_before_the_run_whether_it_can_run(tiny_studio, empty_cache, monkeypatch, offline):
    if not offline:
        monkeypatch.delenv("HF_HUB_OFFLINE")  # nothing is fetched: readiness only reads the cache
    hub = HubAccess(offline, probe=lambda url, timeout_s: True)  # online: a hub that answers (never asked for files)
    studio = Studio(LocalBackend(tiny_studio.backend.engine, Preprocessors(device="cpu", hub=hub)), tiny_studio.limits, [])
    columns = parse_columns(["canny", "depth_midas", "canny + depth_midas",
                             {"module": "canny", "model": "someone/controlnet-canny-v2"}], studio.limits)
    states = column_readiness(studio, columns)
    midas = get_spec("depth_midas").weights
    assert states[0] == "ready"  # no weights, and the tiny model brings its own ControlNets
    if offline:
        assert states[1].startswith("cannot run: depth_midas needs lllyasviel/Annotators dpt_hybrid-midas-501f0c75.pt")
        assert f"Fetch with `{midas.fetch_command()}`" in states[1] and states[2] == states[1]
        assert states[3] == ("cannot run: ControlNet someone/controlnet-canny-v2 is not downloaded and this server is "
                             "offline. Fetch with `hf download someone/controlnet-canny-v2`.")
    else:
        assert states[1] == f"downloads on first run: lllyasviel/Annotators dpt_hybrid-midas-501f0c75.pt (~{midas.size_mb:g} MB)"
        assert states[3] == "downloads on first run: ControlNet someone/controlnet-canny-v2 (~1.4 GB)"
