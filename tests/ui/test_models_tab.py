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
    rows = {row[0]: row for row in controlnet_rows(backend.status(), overrides)}
    assert rows["canny"][1:] == [str(folder), "loads on first use"]
    assert replica_rows(backend.status()) == []  # in-process: no replicas table
    engine.get().generate(GenerationRequest(prompt="x", units=(ControlUnit(image=Image.new("RGB", (64, 64)), condition="canny"),),
                                            steps=1, width=64, height=64, seed=1), save=False)
    rows = {row[0]: row for row in controlnet_rows(backend.status(), overrides)}
    assert rows["canny"][1:] == [str(folder), "resident"]
    assert rows["depth"][2] == "loads on first use"
