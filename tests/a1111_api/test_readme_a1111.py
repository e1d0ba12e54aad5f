"""README's A1111-compatible API example, run as written against a live `--api` server (only the port and the file
swapped)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from tests.a1111_api.conftest import drawing

pytestmark = pytest.mark.server
README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_webuiapi_example_runs(open_api, tmp_path, monkeypatch, capsys):
    section = README.read_text().split("## A1111-compatible API", 1)[1].split("\n## ", 1)[0]
    [example] = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    drawing().resize((128, 128)).save(tmp_path / "drawing.png")
    monkeypatch.chdir(tmp_path)
    port = open_api.url.rstrip("/").rsplit(":", 1)[1]
    exec(compile(example.replace("port=7860", f"port={port}"), "README.md", "exec"), {})
    assert capsys.readouterr().out.strip() == "[42] 2"
    assert "Seed: 42" in Image.open(tmp_path / "cabin.png").info["parameters"]
