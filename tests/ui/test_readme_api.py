"""The README's API examples, executed as written against a live server (only the URL and file swapped)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image

README = Path(__file__).resolve().parents[2] / "README.md"


def api_examples() -> list[str]:
    section = README.read_text().split("## API", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_readme_has_an_example_per_endpoint():
    text = "\n".join(api_examples())
    for endpoint in ("/preprocess", "/generate", "/compare", "/png_info"):
        assert f'api_name="{endpoint}"' in text


def test_readme_api_examples_run(app, drawing_path, capsys, tmp_path):
    from PIL import ImageDraw

    mask = Image.new("L", (128, 128), 0)
    ImageDraw.Draw(mask).ellipse((32, 32, 96, 96), fill=255)
    mask.save(tmp_path / "mask.png")
    namespace: dict = {}
    for block in api_examples():
        code = block.replace("http://127.0.0.1:7860/", app.url).replace('"drawing.png"', repr(drawing_path))
        code = code.replace('"mask.png"', repr(str(tmp_path / "mask.png")))
        exec(compile(code, "README.md", "exec"), namespace)
    assert Image.open(namespace["control_map"]).size[0] > 0
    assert len(namespace["images"]) == 2
    assert namespace["infotext"].splitlines()[-1].startswith("Steps: 4, Sampler: Euler a")
    captions = namespace["captions"]  # 3 columns (one a combination) x the maps' row and 2 weights
    assert captions[:3] == ["canny · map", "lineart_standard (res 256) · map", "canny + invert · map"] and len(captions) == 9
    assert captions[8] == "canny + invert · weight = 1 · seed 7"
    assert namespace["fields"]["Seed"] == "42"
    repainted, first = Image.open(namespace["repainted"][0]), Image.open(namespace["images"][0])
    corner = (slice(0, 16), slice(0, 16))  # far outside the blurred mask: the picture's own pixels
    assert (np.asarray(repainted.convert("RGB"))[corner] == np.asarray(first.convert("RGB"))[corner]).all()
    assert "Denoising strength: 0.6, Mask blur: 4, Masked content: original" in namespace["repaint_info"]
    printed = capsys.readouterr().out
    assert "2 images;" in printed
