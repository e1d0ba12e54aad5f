"""Segmentation (seg_ufade20k): UperNet from its hub files, ADE20K's classes painted in ADE20K's palette."""

from __future__ import annotations

import numpy as np
import torch
from controlnet_aux.util import ade_palette
from huggingface_hub import hf_hub_download
from PIL import Image

from preprocessors import detectors

UPERNET = "openmmlab/upernet-convnext-small"


def test_upernet_loads_from_its_cache_file(runner):
    runner.load("seg_ufade20k")
    _, model = runner._detectors["upernet"]
    saved = torch.load(hf_hub_download(UPERNET, "pytorch_model.bin", local_files_only=True), map_location="cpu",
                       weights_only=True)
    key = next(k for k in saved if k.endswith("fpn_bottleneck.conv.weight"))
    assert model.config.num_labels == 150 and torch.equal(model.state_dict()[key], saved[key])


def test_a_photo_becomes_regions_of_ade20k_colours(runner, astronaut):
    found = np.asarray(runner.run("seg_ufade20k", astronaut.resize((180, 120)), processor_res=96))
    assert found.shape == (96, 144, 3)
    palette = {tuple(colour) for colour in ade_palette()}
    assert {tuple(colour) for colour in found.reshape(-1, 3)} <= palette  # every pixel is a class's colour, no blends


class _Batch(dict):
    def to(self, device):
        return self


class _SkyOverWall(torch.nn.Module):
    """Stands in for the network: class 2 (sky) in the top half of its logits, class 0 (wall) below."""

    device = torch.device("cpu")

    def forward(self, pixel_values):
        logits = torch.zeros(1, 150, 32, 32)
        logits[:, 2, :16], logits[:, 0, 16:] = 1.0, 1.0
        return logits


class _Processor:
    def __call__(self, images, return_tensors):
        return _Batch(pixel_values=torch.zeros(1, 3, 64, 64))

    def post_process_semantic_segmentation(self, outputs, target_sizes):
        from transformers import SegformerImageProcessor

        return SegformerImageProcessor().post_process_semantic_segmentation(
            type("Out", (), {"logits": outputs})(), target_sizes=target_sizes)


def test_each_class_is_painted_in_its_palette_colour():
    result = detectors.ADAPTERS["upernet"].run((_Processor(), _SkyOverWall()), Image.new("RGB", (200, 100)), 100, None, None)
    pixels = np.asarray(result)
    assert pixels.shape == (100, 200, 3)
    assert (pixels[:45] == ade_palette()[2]).all() and (pixels[55:] == ade_palette()[0]).all()
