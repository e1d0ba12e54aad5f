"""One running app (tiny model, offline, fake annotator cache) shared by the API and browser tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.server import start_app
from tests.ui.browser import CHROMIUM, FLAGS, SHOTS, TIMEOUT_MS


@pytest.fixture(scope="session")
def ui_models_dir(tmp_path_factory) -> Path:
    """The folder the shared app allows ControlNets from, holding two diffusers ControlNet folders (tiny, random)."""
    from pipelines.tiny import build_controlnet

    folder = tmp_path_factory.mktemp("ui-models")
    for name, condition in UI_CONTROLNETS.items():
        build_controlnet(condition).save_pretrained(folder / name)
    return folder


UI_CONTROLNETS = {"my-canny": "canny", "my-depth": "depth"}


@pytest.fixture(scope="session")
def app(tmp_path_factory, annotators_ready, lcm_lora_repo, ui_models_dir):
    """The shared app, with draft mode's LoRA in the hub cache and a models folder users may pick from."""
    running = start_app(tmp_path_factory.mktemp("app"), "--models-dir", str(ui_models_dir))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def drawing_path(tmp_path_factory) -> str:
    """A real photograph (scikit-image's astronaut) at 256x192: edges at many strengths, so thresholds matter."""
    from skimage import data

    photo = Image.fromarray(data.astronaut()).resize((256, 256)).crop((0, 32, 256, 224))
    path = tmp_path_factory.mktemp("images") / "photo.png"
    photo.save(path)
    return str(path)


@pytest.fixture(scope="module")
def page(app):
    """A fresh Chromium page on the shared app for each browser test module."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian chromium is required: apt-get install -y chromium"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        tab.set_default_timeout(TIMEOUT_MS)
        tab.goto(app.url)
        tab.locator("#generate-button").wait_for()
        yield tab
        context.close()
        browser.close()


@pytest.fixture(scope="session")
def generate_tab(ui_models_dir):
    """The Generate tab built in this process around a studio that allows `ui_models_dir` (no model is loaded)."""
    import gradio as gr

    from pipelines.lazy import LazyEngine
    from pipelines.limits import DEFAULT_LIMITS
    from preprocessors import Preprocessors
    from serving import LocalBackend
    from studio import Studio
    from ui.generate_tab import build_generate_tab

    studio = Studio(LocalBackend(LazyEngine("tiny", lambda model: None), Preprocessors(device="cpu")), DEFAULT_LIMITS,
                    [ui_models_dir])
    with gr.Blocks():
        tab = build_generate_tab(studio, DEFAULT_LIMITS)
    return studio, tab


@pytest.fixture(scope="session")
def client(app):
    """A gradio_client on the shared app."""
    from gradio_client import Client

    return Client(app.url, verbose=False)


@pytest.fixture(scope="session")
def tiny_studio():
    """A studio in this process on the tiny model (loaded), offline, for matrix tests that need no server."""
    from pipelines.engine import Engine
    from pipelines.lazy import LazyEngine
    from pipelines.limits import DEFAULT_LIMITS
    from preprocessors import Preprocessors
    from serving import LocalBackend
    from studio import Studio

    engine = LazyEngine("tiny", lambda model: Engine.load(model, device="cpu", taesd=False))
    engine.start().join(timeout=120)
    return Studio(LocalBackend(engine, Preprocessors(device="cpu", offline=True)), DEFAULT_LIMITS, [])
