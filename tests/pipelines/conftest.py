"""Shared engine fixtures: the tiny model on CPU and a small control image."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pipelines.engine import Engine


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine.load("tiny", device="cpu")


@pytest.fixture(scope="session")
def control_image() -> Image.Image:
    """A synthetic drawing with hard edges: rectangles and a circle."""
    canvas = np.zeros((96, 80, 3), dtype=np.uint8)
    canvas[10:40, 10:70] = 255
    yy, xx = np.mgrid[:96, :80]
    canvas[((yy - 65) ** 2 + (xx - 40) ** 2) < 15**2] = (255, 128, 0)
    return Image.fromarray(canvas)
