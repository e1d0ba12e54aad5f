"""Real photographs from scikit-image and one shared runner."""

from __future__ import annotations

import pytest
from PIL import Image
from skimage import data

from preprocessors import Preprocessors


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut()).resize((256, 256))


@pytest.fixture(scope="session")
def camera() -> Image.Image:
    return Image.fromarray(data.camera()).resize((256, 256)).convert("RGB")


@pytest.fixture(scope="session")
def runner(annotators_ready) -> Preprocessors:
    return Preprocessors(device="cpu", offline=True)
