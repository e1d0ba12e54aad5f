"""The registry as data: every family has its variants, every id resolves, the docs table is current."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.controlnets import CONTROLNET_MODELS
from preprocessors import FAMILIES, PreprocessorError, Preprocessors, families, get_spec, names, pixel_perfect_resolution
from preprocessors.docs import document, markdown_table

EXPECTED = {
    "Canny": {"canny"},
    "Line_Art": {"lineart_realistic", "lineart_coarse", "lineart_anime", "lineart_anime_denoise", "lineart_standard"},
    "Soft_Edge": {"softedge_hed", "softedge_hedsafe", "softedge_pidinet", "softedge_pidisafe", "softedge_teed"},
    "Pose": {"openpose", "openpose_hand", "openpose_face", "openpose_full"},
    "Depth": {"depth_midas", "depth_zoe", "depth_anything_v2"},
    "Normal": {"normal_bae"},
    "Other": {"none", "invert"},
}


def test_every_family_has_its_variants():
    assert len(names()) >= 20
    grouped = families()
    assert set(grouped) == set(FAMILIES)
    for family, expected in EXPECTED.items():
        assert expected <= set(grouped[family]), family


def test_every_id_resolves_to_a_consistent_spec():
    for name in names():
        spec = get_spec(name)
        assert spec.name == name
        assert spec.condition is None or spec.condition in CONTROLNET_MODELS
        for param in (spec.threshold_a, spec.threshold_b):
            if param is not None:
                assert param.minimum <= param.default <= param.maximum and param.step > 0
        if spec.weights is not None:
            assert spec.weights.filenames and spec.weights.size_mb > 0
            assert spec.weights.fetch_command().startswith(f"hf download {spec.weights.repo} ")


def test_family_defaults_come_first():
    grouped = families()
    assert [grouped[f][0] for f in FAMILIES[:-1]] == ["canny", "lineart_realistic", "softedge_pidinet", "openpose_full",
                                                       "depth_midas", "normal_bae"]


def test_unknown_names_and_bad_parameters_are_sentences():
    with pytest.raises(PreprocessorError, match="Unknown preprocessor 'sobel'; choose one of: canny"):
        get_spec("sobel")
    runner = Preprocessors(offline=True)
    from PIL import Image

    image = Image.new("RGB", (80, 64))
    with pytest.raises(PreprocessorError, match=r"canny threshold_a \(Low threshold\) must be between 1 and 255"):
        runner.run("canny", image, 64, threshold_a=0)
    with pytest.raises(PreprocessorError, match="processor_res must be a whole number between 64 and 2048"):
        runner.run("canny", image, 10)


def test_pixel_perfect_matches_a1111():
    # 1024x768 photo into a 512x512 output: crop fills (scale = max), fill fits (scale = min), on the short side
    assert pixel_perfect_resolution((1024, 768), 512, 512, "Crop and Resize") == 512
    assert pixel_perfect_resolution((1024, 768), 512, 512, "Just Resize") == 512
    assert pixel_perfect_resolution((1024, 768), 512, 512, "Resize and Fill") == 384
    assert pixel_perfect_resolution((300, 200), 768, 512, "Crop and Resize") == 512


def test_docs_and_readme_tables_are_current():
    root = Path(__file__).resolve().parents[2]
    assert (root / "docs" / "preprocessors.md").read_text() == document(CONTROLNET_MODELS)
    readme = (root / "README.md").read_text()
    start, end = "<!-- preprocessor-table:start -->\n", "<!-- preprocessor-table:end -->"
    assert readme.split(start, 1)[1].split(end, 1)[0] == markdown_table(CONTROLNET_MODELS)
