"""The Models tab tells the truth about which ControlNet each condition uses."""

from __future__ import annotations

from PIL import Image

from pipelines.engine import Engine
from pipelines.lazy import LazyEngine
from pipelines.requests import ControlUnit, GenerationRequest
from preprocessors import Preprocessors
from serving import LocalBackend
from ui.models_tab import controlnet_rows, replica_rows


def test_an_operators_override_is_listed_and_shown_resident_after_one_job(tmp_path):
    """Before: the tab listed the v1.1 defaults even when `--controlnet canny=<folder>` replaced one, so the override
    never showed as resident. Now the row names the folder, and after one canny job it is resident."""
    from pipelines.tiny import build_controlnet

    folder = tmp_path / "my-canny"
    build_controlnet("canny").save_pretrained(folder)  # a diffusers ControlNet folder, as an operator would have
    overrides = {"canny": str(folder)}
    engine = LazyEngine("tiny", lambda model: Engine.load(model, device="cpu", controlnet_overrides=overrides))
    engine.start().join(timeout=120)
    backend = LocalBackend(engine, Preprocessors(device="cpu", offline=True))
    needs = lambda condition: backend.controlnet_needs(condition, None)  # noqa: E731
    rows = {row[0]: row for row in controlnet_rows(backend.status(), overrides, needs)}
    assert rows["canny"][1:] == [str(folder), "on disk, loads on first use", ""]
    assert replica_rows(backend.status()) == []  # in-process: no replicas table
    engine.get().generate(GenerationRequest(prompt="x", units=(ControlUnit(image=Image.new("RGB", (64, 64)), condition="canny"),),
                                            steps=1, width=64, height=64, seed=1), save=False)
    rows = {row[0]: row for row in controlnet_rows(backend.status(), overrides, needs)}
    assert rows["canny"][1:] == [str(folder), "in memory", ""]
    assert rows["depth"][2] == "built in (tiny model, random weights)"  # not "resident" as if v1.1 weights ran


def test_a_missing_controlnet_says_it_cannot_run_and_how_to_fetch_it():
    status = {"tiny": False, "controlnets": []}
    needs = {"canny": [("cannot run", "ControlNet x is not downloaded and this server is offline. Fetch with `hf download x`.")],
             "depth": [("download", "ControlNet y (~1.4 GB)")]}
    rows = {row[0]: row for row in controlnet_rows(status, None, lambda condition: needs.get(condition, []))}
    assert rows["canny"][2:] == ["cannot run", needs["canny"][0][1]]
    assert rows["depth"][2:] == ["downloads on first use", "ControlNet y (~1.4 GB)"]
    assert rows["normal"][2:] == ["on disk, loads on first use", ""]
