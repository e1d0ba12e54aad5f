"""The MangaLineExtraction network that A1111 runs for `lineart_anime_denoise` (weights `erika.pth`).

Written by hand because no installed library ships it (controlnet-aux 0.0.10 has no manga_line). The
architecture is the one of "Deep Extraction of Manga Structural Lines" (Li et al. 2017): a residual
encoder-decoder on the raw grey image (0..255, not normalised) with pre-activation units (BN, LeakyReLU,
conv), four stride-2 stages down, four nearest-upsampling stages up, additive skips. Attribute names
follow the published state dict, so `erika.pth` loads strictly; the code around them is our own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from preprocessors.normalise import short_side_size

FILENAME = "erika.pth"
ENCODER = ((1, 24, 2), (24, 48, 3), (48, 96, 5), (96, 192, 7), (192, 384, 12))  # in, out, units per stage
DECODER = ((384, 192, 7), (192, 96, 5), (96, 48, 3), (48, 24, 2))
STRIDE = 16  # four stride-2 stages: the input must divide by this


class _Holder(nn.Module):
    """A named `model` sequence: keeps the state-dict paths (`conv1.model.2.weight`) of the published file."""

    def __init__(self, *layers: nn.Module):
        super().__init__()
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _preact_conv(cin: int, cout: int, kernel: int = 3, stride: int = 1, upsample: bool = False) -> _Holder:
    layers = [nn.BatchNorm2d(cin, eps=1e-3), nn.LeakyReLU(0.2), nn.Conv2d(cin, cout, kernel, stride, kernel // 2)]
    return _Holder(*layers, *([nn.Upsample(scale_factor=2, mode="nearest")] if upsample else []))


class _Unit(nn.Module):
    """Residual unit: two pre-activation convs plus a shortcut (1x1 projection when the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int = 1, upsample: bool = False):
        super().__init__()
        self.conv1 = _preact_conv(cin, cout, stride=stride, upsample=upsample)
        self.residual = _preact_conv(cout, cout)
        project = cin != cout or stride != 1
        layers = [nn.Conv2d(cin, cout, 1, stride)] + ([nn.Upsample(scale_factor=2, mode="nearest")] if upsample else [])
        self.shortcut = _Holder(*layers) if project else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.residual(self.conv1(x))


def _stage(cin: int, cout: int, units: int, down: bool = False, up: bool = False) -> _Holder:
    """A stage of units; a down stage strides in its last unit, an up stage upsamples in its first."""
    layers = []
    for index in range(units):
        stride = 2 if down and index == units - 1 else 1
        layers.append(_Unit(cin if index == 0 else cout, cout, stride, upsample=up and index == 0))
    return _Holder(*layers)


class MangaLineNet(nn.Module):
    """Grey image (N,1,H,W, values 0..255, H and W multiples of 16) -> line-free-of-screentone image, 0..255."""

    def __init__(self):
        super().__init__()
        for index, (cin, cout, units) in enumerate(ENCODER):
            setattr(self, f"block{index}", _stage(cin, cout, units, down=index > 0))
        for index, (cin, cout, units) in enumerate(DECODER):
            setattr(self, f"block{index + 5}", _stage(cin, cout, units, up=True))
        self.block9 = _stage(24, 16, 2)
        self.conv15 = _preact_conv(16, 1, kernel=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for index in range(5):
            x = getattr(self, f"block{index}")(x)
            skips.append(x)
        for index in range(4):  # decoder stage i adds the encoder output of the same size
            x = getattr(self, f"block{index + 5}")(x) + skips[3 - index]
        return self.conv15(self.block9(x))


class MangaLineDetector:
    """Loads `erika.pth` from a local folder and draws white lines on black (the lineart_anime convention)."""

    def __init__(self, model: nn.Module, device: str = "cpu"):
        self.model, self.device = model, device

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> MangaLineDetector:
        state = torch.load(Path(folder) / FILENAME, map_location="cpu", weights_only=True)
        state = {key.removeprefix("module."): value for key, value in state.items()}  # some copies were saved from DataParallel
        model = MangaLineNet()
        model.load_state_dict(state)
        return cls(model.eval())

    def to(self, device: str) -> MangaLineDetector:
        self.model.to(device)
        self.device = device
        return self

    def __call__(self, image: Image.Image, detect_resolution: int = 512) -> Image.Image:
        """Grey at detect_resolution (short side), edge-padded to a multiple of 16, network, crop, invert."""
        width, height = short_side_size(image.size, detect_resolution)
        grey = np.asarray(image.convert("L").resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)
        padded = np.pad(grey, ((0, -height % STRIDE), (0, -width % STRIDE)), mode="edge")
        with torch.no_grad():
            lines = self.model(torch.from_numpy(padded)[None, None].to(self.device))[0, 0, :height, :width].cpu().numpy()
        return Image.fromarray(np.nan_to_num(255 - lines).clip(0, 255).astype(np.uint8)).convert("RGB")
