"""The shipped example images are the ones the project draws, and the page offers them as examples."""

from __future__ import annotations

import numpy as np
from PIL import Image

from examples.make_examples import EXAMPLES, HERE
from ui.generate_tab import GENERATE_EXAMPLES


def test_committed_examples_match_the_drawing_code():
    for name, draw in EXAMPLES.items():
        assert np.array_equal(np.asarray(Image.open(HERE / name).convert("RGB")), np.asarray(draw())), name


def test_every_example_in_the_ui_exists_and_the_pose_uses_openpose_colours():
    for _, name, *_ in GENERATE_EXAMPLES:
        assert (HERE / name).is_file()
    pose = np.asarray(Image.open(HERE / "stick_figure_openpose.png"))
    colours = {tuple(pixel) for pixel in pose.reshape(-1, 3)[::7]}
    assert (255, 0, 0) in colours and (0, 0, 255) in colours and (0, 0, 0) in colours


def test_the_page_builds_with_examples():
    from pipelines.lazy import LazyEngine
    from pipelines.limits import Limits
    from preprocessors import Preprocessors
    from serving import LocalBackend
    from studio import Studio
    from ui.layout import build_demo

    demo = build_demo(Studio(LocalBackend(LazyEngine("tiny", lambda model: None), Preprocessors(offline=True)), Limits(), []))
    config = demo.get_config_file()
    labels = [c.get("props", {}).get("label") for c in config["components"]]
    assert "Examples (drawn by the project)" in labels
