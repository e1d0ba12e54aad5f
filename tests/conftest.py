"""Test-wide offline setup: a private hub cache and HF_HUB_OFFLINE=1, set before any HF library imports."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_HUB = Path(os.environ.get("STUDIO_TEST_HUB") or tempfile.mkdtemp(prefix="studio-hub-")) / "hub"
_HUB.mkdir(parents=True, exist_ok=True)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_CACHE"] = str(_HUB)
os.environ["HF_HOME"] = str(_HUB.parent)
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def hub_cache() -> Path:
    """The offline hub cache every test and test server reads from."""
    return _HUB


@pytest.fixture(scope="session")
def annotators_ready(hub_cache) -> Path:
    """Random-weight annotators of the real architectures, in the hub cache everything reads offline."""
    from tests.annotator_cache import build_annotator_cache

    return build_annotator_cache(hub_cache)
