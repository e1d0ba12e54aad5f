"""Adapters from a registry spec to a controlnet-aux detector (or transformers: Depth Anything, UperNet; OpenCV: DWPose).

Each adapter is: load(folder, device) -> detector, and run(detector, image, res, a, b, options) -> PIL.
controlnet-aux submodules are imported lazily: importing the package top level costs ~10 s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from preprocessors.normalise import short_side_size

Runner = Callable[..., Image.Image]


@dataclass(frozen=True)
class Adapter:
    load: Callable[[Path | None, str], object]
    run: Runner


def _aux(module: str, name: str):
    return getattr(__import__(f"controlnet_aux.{module}", fromlist=[name]), name)


def _pretrained(module: str, name: str, **kwargs) -> Callable[[Path | None, str], object]:
    def load(folder: Path | None, device: str) -> object:
        return _aux(module, name).from_pretrained(str(folder), **kwargs).to(device)
    return load


def _call(detector, image, res, a, b, **options) -> Image.Image:
    return detector(image, detect_resolution=res, image_resolution=res, output_type="pil", **options)


def _canny(detector, image, res, a, b, **options) -> Image.Image:
    return detector(image, low_threshold=int(a), high_threshold=int(b), detect_resolution=res, image_resolution=res, output_type="pil")


def _lineart_standard(detector, image, res, a, b, **options) -> Image.Image:
    return detector(image, guassian_sigma=float(a), intensity_threshold=int(b), detect_resolution=res, output_type="pil")


def _teed(detector, image, res, a, b, **options) -> Image.Image:
    return detector(image, detect_resolution=res, safe_steps=int(a), output_type="pil")


def _manga_line_load(folder: Path | None, device: str) -> object:
    from preprocessors.manga_line import MangaLineDetector

    return MangaLineDetector.from_pretrained(folder).to(device)


def _manga_line(detector, image, res, a, b, **options) -> Image.Image:
    return detector(image, detect_resolution=res)


def _transformers(auto_class: str) -> Callable[[Path | None, str], object]:
    """A transformers model and its image processor from one hub folder."""
    def load(folder: Path | None, device: str) -> object:
        import transformers

        processor = transformers.AutoImageProcessor.from_pretrained(str(folder))
        model = getattr(transformers, auto_class).from_pretrained(str(folder)).to(device).eval()
        return processor, model
    return load


def _depth_anything(detector, image, res, a, b, **options) -> Image.Image:
    """Relative inverse depth (large = near), min-max scaled so near is bright, as the depth ControlNet expects."""
    import torch

    processor, model = detector
    resized = image.resize(short_side_size(image.size, res))
    inputs = processor(images=resized, return_tensors="pt").to(model.device)
    with torch.no_grad():
        depth = model(**inputs).predicted_depth[:, None]
    depth = torch.nn.functional.interpolate(depth, size=resized.size[::-1], mode="bicubic", align_corners=False)[0, 0]
    depth = depth - depth.min()
    peak = float(depth.max())
    depth = (depth / peak * 255 if peak > 0 else depth).round().clamp(0, 255).byte().cpu().numpy()
    return Image.fromarray(depth).convert("RGB")


def _segment(detector, image, res, a, b, **options) -> Image.Image:
    """ADE20K classes per pixel, coloured with ADE20K's palette (the colours the seg ControlNet was trained on)."""
    import numpy as np
    import torch
    from controlnet_aux.util import ade_palette

    processor, model = detector
    resized = image.convert("RGB").resize(short_side_size(image.size, res))
    inputs = processor(images=resized, return_tensors="pt").to(model.device)
    with torch.no_grad():
        outputs = model(**inputs)
    labels = processor.post_process_semantic_segmentation(outputs, target_sizes=[resized.size[::-1]])[0]
    return Image.fromarray(np.asarray(ade_palette(), dtype=np.uint8)[labels.cpu().numpy()])


def _dwpose_load(folder: Path | None, device: str) -> object:
    from preprocessors.dwpose import DWposeDetector

    return DWposeDetector.from_folder(folder).to(device)


def _none(detector, image, res, a, b, **options) -> Image.Image:
    return image


def _tile_resample(detector, image, res, a, b, **options) -> Image.Image:
    """The picture at the processor resolution, scaled down by the rate (area averaging, as A1111's INTER_AREA)."""
    picture = image.resize(short_side_size(image.size, res), Image.Resampling.LANCZOS)
    if a < 1.1:  # A1111 leaves the picture as it is below 1.1
        return picture
    small = (max(1, int(picture.width / a)), max(1, int(picture.height / a)))
    return picture.resize(small, Image.Resampling.BOX)


def _mlsd(detector, image, res, a, b, **options) -> Image.Image:
    return detector(image, thr_v=float(a), thr_d=float(b), detect_resolution=res, image_resolution=res, output_type="pil")


def _xdog(detector, image, res, a, b, **options) -> Image.Image:
    from preprocessors.handmade import xdog_scribble

    return xdog_scribble(image, res, a)


def _shuffle(detector, image, res, a, b, **options) -> Image.Image:
    from preprocessors.handmade import content_shuffle

    return content_shuffle(image, res, int(a))


def _invert(detector, image, res, a, b, **options) -> Image.Image:
    return ImageOps.invert(image.convert("RGB"))


def _no_weights(factory: Callable[[], object]) -> Callable[[Path | None, str], object]:
    return lambda folder, device: factory()


ADAPTERS: dict[str, Adapter] = {
    "canny": Adapter(_no_weights(lambda: _aux("canny", "CannyDetector")()), _canny),
    "lineart_standard": Adapter(_no_weights(lambda: _aux("lineart_standard", "LineartStandardDetector")()), _lineart_standard),
    "lineart": Adapter(_pretrained("lineart", "LineartDetector"), _call),
    "lineart_anime": Adapter(_pretrained("lineart_anime", "LineartAnimeDetector"), _call),
    "manga_line": Adapter(_manga_line_load, _manga_line),
    "pidinet": Adapter(_pretrained("pidi", "PidiNetDetector"), _call),
    "hed": Adapter(_pretrained("hed", "HEDdetector"), _call),
    "teed": Adapter(_pretrained("teed", "TEEDdetector", filename="5_model.pth"), _teed),
    "openpose": Adapter(_pretrained("open_pose", "OpenposeDetector"), _call),
    "dwpose": Adapter(_dwpose_load, _call),  # an OpenposeDetector too: same call, same drawing
    "midas": Adapter(_pretrained("midas", "MidasDetector"), _call),
    "zoe": Adapter(_pretrained("zoe", "ZoeDetector"), _call),
    "normal_bae": Adapter(_pretrained("normalbae", "NormalBaeDetector"), _call),
    "depth_anything": Adapter(_transformers("AutoModelForDepthEstimation"), _depth_anything),
    "upernet": Adapter(_transformers("UperNetForSemanticSegmentation"), _segment),
    "none": Adapter(_no_weights(lambda: None), _none),
    "invert": Adapter(_no_weights(lambda: None), _invert),
    "tile_resample": Adapter(_no_weights(lambda: None), _tile_resample),
    "xdog": Adapter(_no_weights(lambda: None), _xdog),
    "mlsd": Adapter(_pretrained("mlsd", "MLSDdetector"), _mlsd),
    "shuffle": Adapter(_no_weights(lambda: None), _shuffle),
}
