"""The dependency direction DESIGN.md fixes: app.py -> (ui, a1111_api) -> studio -> serving -> (pipelines,
preprocessors). A package that imports a layer above it, or a web framework below the surfaces, fails here."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.server import ROOT

FRAMEWORKS = ("gradio", "fastapi", "starlette")
SURFACES = ("ui", "a1111_api", "app")


@pytest.mark.parametrize("package", ["pipelines", "preprocessors", "serving", "studio"])
def test_a_lower_layer_imports_no_web_framework_and_no_surface(package):
    probe = (f"import sys, {package}; "
             f"print(sorted(name for name in sys.modules if name.split('.')[0] in {FRAMEWORKS + SURFACES!r}))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.strip() == "[]", f"{package} pulls in {loaded.stdout.strip()}"
