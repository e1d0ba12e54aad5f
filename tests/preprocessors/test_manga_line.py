"""The hand-written MangaLineExtraction network (lineart_anime_denoise): its size, shapes, file loading, output convention."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from preprocessors import get_spec
from preprocessors.manga_line import FILENAME, MangaLineDetector, MangaLineNet


def test_network_size_matches_the_published_file():
    net = MangaLineNet()
    megabytes = sum(p.numel() for p in net.state_dict().values() if p.is_floating_point()) * 4 / 1e6
    assert abs(megabytes - get_spec("lineart_anime_denoise").weights.size_mb) < 0.5  # erika.pth is 172.5 MB of fp32
    assert net.state_dict()["block0.model.0.conv1.model.0.weight"].shape == (1,)  # BN on the raw grey channel first
    assert net.state_dict()["conv15.model.2.weight"].shape == (1, 16, 1, 1)


def test_output_has_the_input_size():
    torch.manual_seed(0)
    with torch.no_grad():
        out = MangaLineNet().eval()(torch.rand(1, 1, 48, 80) * 255)
    assert out.shape == (1, 1, 48, 80) and torch.isfinite(out).all()


def test_loads_plain_and_data_parallel_files(tmp_path):
    torch.manual_seed(1)
    state = MangaLineNet().state_dict()
    torch.save({f"module.{key}": value for key, value in state.items()}, tmp_path / FILENAME)
    detector = MangaLineDetector.from_pretrained(tmp_path)
    assert torch.equal(detector.model.state_dict()["block9.model.1.residual.model.2.weight"],
                       state["block9.model.1.residual.model.2.weight"])
    assert not detector.model.training


class _Identity(torch.nn.Module):
    """A network that returns the page unchanged: isolates the detector's pre- and post-processing."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-1] % 16 == 0 and x.shape[-2] % 16 == 0 and x.max() > 1  # padded, raw 0..255 grey
        return x


def test_dark_lines_on_a_page_become_white_lines_on_black():
    page = Image.new("RGB", (150, 100), "white")
    ImageDraw.Draw(page).line([(10, 50), (140, 50)], fill="black", width=6)
    detector = MangaLineDetector(_Identity())
    result = np.asarray(detector(page, detect_resolution=100))
    assert result.shape == (100, 150, 3)
    assert result[50, 75].min() > 240 and result[10, 10].max() < 15  # the line is white, the paper black
