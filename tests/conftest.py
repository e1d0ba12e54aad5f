"""Test-wide offline setup: a private hub cache and HF_HUB_OFFLINE=1, set before any HF library imports."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

# Everything a test run writes to temp (the ~1.6 GB fake hub cache, gradio_client downloads, test servers' files)
# goes in one folder removed at exit: runs must not pile up on a disk (a full disk once failed CI).
_SCRATCH = Path(tempfile.mkdtemp(prefix="studio-tests-"))
atexit.register(shutil.rmtree, _SCRATCH, ignore_errors=True)
(_SCRATCH / "tmp").mkdir()
os.environ["TMPDIR"] = tempfile.tempdir = str(_SCRATCH / "tmp")  # test servers inherit it
_HUB = Path(os.environ.get("STUDIO_TEST_HUB") or _SCRATCH) / "hub"  # STUDIO_TEST_HUB: a cache kept between runs
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
