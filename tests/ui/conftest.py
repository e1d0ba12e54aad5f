"""One running app (tiny model, offline, fake annotator cache) shared by the API and browser tests."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.server import start_app


@pytest.fixture(scope="session")
def app(tmp_path_factory, annotators_ready):
    running = start_app(tmp_path_factory.mktemp("app"))
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
