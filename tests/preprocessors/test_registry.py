"""The registry as data: every family has its variants, every id resolves, the docs table is current."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.controlnets import CONTROLNET_MODELS
from preprocessors import FAMILIES, PreprocessorError, Preprocessors, families, get_spec, names, pixel_perfect_resolution
from preprocessors.docs import README_END, README_START, document, with_readme_table

EXPECTED = {
    "Canny": {"canny"},
    "Line_Art": {"lineart_realistic", "lineart_coarse", "lineart_anime", "lineart_anime_denoise", "lineart_standard"},
    "Soft_Edge": {"softedge_hed", "softedge_hedsafe", "softedge_pidinet", "softedge_pidisafe", "softedge_teed"},
    "Pose": {"openpose", "openpose_hand", "openpose_face", "openpose_full", "dw_openpose_full"},
    "Depth": {"depth_midas", "depth_zoe", "depth_anything_v2"},
    "Normal": {"normal_bae"},
    "Scribble": {"scribble_xdog", "scribble_hed", "scribble_pidinet"},
    "MLSD": {"mlsd"},
    "Shuffle": {"shuffle"},
    "Seg": {"seg_ufade20k"},
    "IP2P": {"ip2p"},
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
                                                       "depth_midas", "normal_bae", "scribble_xdog", "mlsd", "shuffle",
                                                       "seg_ufade20k", "ip2p", "tile_resample", "inpaint_only"]


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
    with pytest.raises(PreprocessorError, match="processor_res must be a whole number between 64 and 2048, got 96.5"):
        runner.run("canny", image, 96.5)
    assert runner.run("canny", image, 96.0).size == (120, 96)  # a whole float (JSON, sliders) is accepted


def test_pixel_perfect_matches_a1111():
    # 1024x768 photo into a 512x512 output: crop fills (scale = max), fill fits (scale = min), on the short side
    assert pixel_perfect_resolution((1024, 768), 512, 512, "Crop and Resize") == 512
    assert pixel_perfect_resolution((1024, 768), 512, 512, "Just Resize") == 512
    assert pixel_perfect_resolution((1024, 768), 512, 512, "Resize and Fill") == 384
    assert pixel_perfect_resolution((300, 200), 768, 512, "Crop and Resize") == 512
    assert pixel_perfect_resolution((4000, 3000), 512, 512, "Crop and Resize") == 512  # 512/3000*3000
    assert pixel_perfect_resolution((100, 80), 4096, 4096, "Just Resize") == 2048  # clamped to processor_res's range
    with pytest.raises(PreprocessorError, match="resize_mode must be one of Just Resize, Crop and Resize, Resize and Fill"):
        pixel_perfect_resolution((100, 80), 512, 512, "Stretch")


def test_docs_table_is_current():
    root = Path(__file__).resolve().parents[2]
    assert (root / "docs" / "preprocessors.md").read_text() == document(CONTROLNET_MODELS)


def test_readme_table_is_current():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert README_START in readme and README_END in readme
    assert readme == with_readme_table(readme, CONTROLNET_MODELS)  # rewrite README with this function when it fails
