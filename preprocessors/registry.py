"""The preprocessor registry as data: one frozen spec per name (A1111 module names), built once."""

from __future__ import annotations

from dataclasses import dataclass

ANNOTATORS = "lllyasviel/Annotators"
DEPTH_ANYTHING = "depth-anything/Depth-Anything-V2-Small-hf"
TEED_REPO = "fal-ai/teed"
# A1111's seg_ufade20k is UperNet with a UniFormer backbone in its own mmseg code, seg_ofade20k OneFormer (ComfyUI's
# aux nodes the same); controlnet-aux 0.0.10 has neither. We run UperNet on ADE20K with a ConvNeXt backbone through
# transformers, as the hysts ControlNet-v1-1 Space and the seg ControlNet's own model card do: the same head, classes
# and palette as seg_ufade20k, from a maintained library, so the name stays A1111's and its API requests work.
UPERNET = "openmmlab/upernet-convnext-small"
DWPOSE = "yzd-v/DWPose"
DWPOSE_FILES = ("yolox_l.onnx", "dw-ll_ucoco_384.onnx")  # the person detector, then the whole-body pose model
POSE_DETECTORS = ("openpose", "dwpose")  # the detectors that find people (OpenPose JSON, the pose editor)
# the conditions a map is detected for (what Compare puts side by side by default); Tile and Inpaint read the picture
# itself, for img2img and inpaint
MAP_FAMILIES = ("Canny", "Line_Art", "Soft_Edge", "Pose", "Depth", "Normal")
FAMILIES = (*MAP_FAMILIES, "Scribble", "MLSD", "Shuffle", "Seg", "IP2P", "Tile", "Inpaint", "Other")


class PreprocessorError(ValueError):
    """A preprocessor request that cannot run; the message is one sentence for the user."""


@dataclass(frozen=True)
class ParamSpec:
    """A tunable parameter as A1111's API exposes it (threshold_a / threshold_b), with its slider range."""

    label: str
    default: float
    minimum: float
    maximum: float
    step: float


@dataclass(frozen=True)
class WeightSpec:
    """Where a detector's weights live on the hub, and roughly how big they are."""

    repo: str
    filenames: tuple[str, ...]
    size_mb: float

    def fetch_command(self, filenames: tuple[str, ...] | None = None) -> str:
        """The huggingface_hub 2.x CLI line that puts these files (or just `filenames`) in the cache."""
        return f"hf download {self.repo} {' '.join(filenames or self.filenames)}"


@dataclass(frozen=True)
class PreprocessorSpec:
    """One named preprocessor: its family, the ControlNet it feeds, its parameters, its weights."""

    name: str
    family: str
    label: str
    condition: str | None
    detector: str  # key of the detector adapter in preprocessors/detectors.py
    threshold_a: ParamSpec | None = None
    threshold_b: ParamSpec | None = None
    weights: WeightSpec | None = None
    options: tuple[tuple[str, object], ...] = ()


_CANNY_LOW = ParamSpec("Low threshold", 100, 1, 255, 1)
_CANNY_HIGH = ParamSpec("High threshold", 200, 1, 255, 1)
_HED = WeightSpec(ANNOTATORS, ("ControlNetHED.pth",), 29.4)
_PIDI = WeightSpec(ANNOTATORS, ("table5_pidinet.pth",), 2.9)
_LINEART = WeightSpec(ANNOTATORS, ("sk_model.pth", "sk_model2.pth"), 34.5)
_ANIME = WeightSpec(ANNOTATORS, ("netG.pth",), 217.3)
_MANGA = WeightSpec(ANNOTATORS, ("erika.pth",), 172.5)
_POSE = WeightSpec(ANNOTATORS, ("body_pose_model.pth", "hand_pose_model.pth", "facenet.pth"), 510.0)

SPECS: tuple[PreprocessorSpec, ...] = (
    PreprocessorSpec("canny", "Canny", "Canny", "canny", "canny", _CANNY_LOW, _CANNY_HIGH),
    PreprocessorSpec("lineart_realistic", "Line_Art", "Line art (realistic)", "lineart", "lineart", weights=_LINEART),
    PreprocessorSpec("lineart_coarse", "Line_Art", "Line art (coarse)", "lineart", "lineart", weights=_LINEART,
                     options=(("coarse", True),)),
    PreprocessorSpec("lineart_anime", "Line_Art", "Line art (anime)", "lineart_anime", "lineart_anime", weights=_ANIME),
    # A1111 runs a different network here (MangaLineExtraction, trained to ignore screentone), not the anime one.
    PreprocessorSpec("lineart_anime_denoise", "Line_Art", "Line art (anime, denoised)", "lineart_anime", "manga_line",
                     weights=_MANGA),
    PreprocessorSpec("lineart_standard", "Line_Art", "Line art (standard, no weights)", "lineart", "lineart_standard",
                     ParamSpec("Gaussian sigma", 6.0, 0.5, 20.0, 0.5), ParamSpec("Intensity threshold", 8, 0, 64, 1)),
    PreprocessorSpec("softedge_pidinet", "Soft_Edge", "Soft edge (PiDiNet)", "softedge", "pidinet", weights=_PIDI),
    PreprocessorSpec("softedge_pidisafe", "Soft_Edge", "Soft edge (PiDiNet safe)", "softedge", "pidinet", weights=_PIDI,
                     options=(("safe", True),)),
    PreprocessorSpec("softedge_hed", "Soft_Edge", "Soft edge (HED)", "softedge", "hed", weights=_HED),
    PreprocessorSpec("softedge_hedsafe", "Soft_Edge", "Soft edge (HED safe)", "softedge", "hed", weights=_HED,
                     options=(("safe", True),)),
    PreprocessorSpec("softedge_teed", "Soft_Edge", "Soft edge (TEED)", "softedge", "teed",
                     ParamSpec("Safe steps", 2, 0, 10, 1), weights=WeightSpec(TEED_REPO, ("5_model.pth",), 0.24)),
    PreprocessorSpec("openpose_full", "Pose", "OpenPose (body + hands + face)", "openpose", "openpose", weights=_POSE,
                     options=(("include_hand", True), ("include_face", True))),
    PreprocessorSpec("openpose", "Pose", "OpenPose (body)", "openpose", "openpose", weights=_POSE),
    PreprocessorSpec("openpose_hand", "Pose", "OpenPose (body + hands)", "openpose", "openpose", weights=_POSE,
                     options=(("include_hand", True),)),
    PreprocessorSpec("openpose_face", "Pose", "OpenPose (body + face)", "openpose", "openpose", weights=_POSE,
                     options=(("include_face", True),)),
    # DWPose: A1111's, ComfyUI's and InvokeAI's default pose estimator now (hands and faces far better than OpenPose's)
    PreprocessorSpec("dw_openpose_full", "Pose", "DWPose (body + hands + face)", "openpose", "dwpose",
                     weights=WeightSpec(DWPOSE, DWPOSE_FILES, 351.0),
                     options=(("include_hand", True), ("include_face", True))),
    PreprocessorSpec("depth_midas", "Depth", "Depth (MiDaS)", "depth", "midas",
                     weights=WeightSpec(ANNOTATORS, ("dpt_hybrid-midas-501f0c75.pt",), 492.8)),
    PreprocessorSpec("depth_anything_v2", "Depth", "Depth Anything V2 (small)", "depth", "depth_anything",
                     weights=WeightSpec(DEPTH_ANYTHING, ("config.json", "preprocessor_config.json", "model.safetensors"), 99.2)),
    PreprocessorSpec("depth_zoe", "Depth", "Depth (ZoeDepth)", "depth", "zoe",
                     weights=WeightSpec(ANNOTATORS, ("ZoeD_M12_N.pt",), 1443.0)),
    PreprocessorSpec("normal_bae", "Normal", "Normal (BAE)", "normal", "normal_bae",
                     weights=WeightSpec(ANNOTATORS, ("scannet.pt",), 291.9)),
    PreprocessorSpec("scribble_xdog", "Scribble", "Scribble (XDoG, no weights)", "scribble", "xdog",
                     ParamSpec("XDoG threshold", 32, 1, 64, 1)),
    PreprocessorSpec("scribble_hed", "Scribble", "Scribble (HED)", "scribble", "hed", weights=_HED,
                     options=(("scribble", True),)),
    PreprocessorSpec("scribble_pidinet", "Scribble", "Scribble (PiDiNet)", "scribble", "pidinet", weights=_PIDI,
                     options=(("scribble", True), ("safe", True))),
    PreprocessorSpec("mlsd", "MLSD", "M-LSD (straight lines)", "mlsd", "mlsd", ParamSpec("Value threshold", 0.1, 0.01, 2.0, 0.01),
                     ParamSpec("Distance threshold", 0.1, 0.01, 20.0, 0.01),
                     weights=WeightSpec(ANNOTATORS, ("mlsd_large_512_fp32.pth",), 6.3)),
    # the reference's colours and style with its structure destroyed; the seed makes the same shuffle again
    PreprocessorSpec("shuffle", "Shuffle", "Shuffle (content shuffle)", "shuffle", "shuffle",
                     ParamSpec("Shuffle seed", 0, 0, 999_999, 1)),
    PreprocessorSpec("seg_ufade20k", "Seg", "Segmentation (UperNet, ADE20K)", "seg", "upernet",
                     weights=WeightSpec(UPERNET, ("config.json", "preprocessor_config.json", "pytorch_model.bin"), 328.0)),
    # instruct-pix2pix reads the picture as it is ("make it winter" is the prompt)
    PreprocessorSpec("ip2p", "IP2P", "Instruct-pix2pix (the picture as it is)", "ip2p", "none"),
    # the tile ControlNet reads the picture itself, made coarser so the model adds the detail back (A1111's tile_resample)
    PreprocessorSpec("tile_resample", "Tile", "Tile (resample: the picture, scaled down)", "tile", "tile_resample",
                     ParamSpec("Down sampling rate", 1.0, 1.0, 8.0, 0.01)),
    # the inpaint ControlNet reads the picture; the engine marks the img2img mask's pixels in it (A1111's inpaint_only)
    PreprocessorSpec("inpaint_only", "Inpaint", "Inpaint (the picture; the mask is marked in it)", "inpaint", "none"),
    PreprocessorSpec("none", "Other", "None (the upload is already a map)", None, "none"),
    # Inverted drawings are line art by default (as in A1111); the unit's ControlNet choice can override it.
    PreprocessorSpec("invert", "Other", "Invert (black lines on white → white on black)", "lineart", "invert"),
)
_BY_NAME = {spec.name: spec for spec in SPECS}


def names() -> list[str]:
    """Every preprocessor name, in registry (display) order."""
    return [spec.name for spec in SPECS]


def get_spec(name: str) -> PreprocessorSpec:
    """The spec for a name, or a sentence listing the valid ones."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise PreprocessorError(f"Unknown preprocessor {name!r}; choose one of: {', '.join(names())}.") from None


def families() -> dict[str, list[str]]:
    """Family -> names in registry order; the first name of each family is its default variant."""
    grouped: dict[str, list[str]] = {family: [] for family in FAMILIES}
    for spec in SPECS:
        grouped[spec.family].append(spec.name)
    return grouped


def resolve_thresholds(spec: PreprocessorSpec, threshold_a: float | None, threshold_b: float | None) -> tuple[float | None, float | None]:
    """Defaults for missing values; out-of-range values are refused with the allowed range."""
    resolved = []
    for param, value, field in ((spec.threshold_a, threshold_a, "threshold_a"), (spec.threshold_b, threshold_b, "threshold_b")):
        if param is None or value is None:
            resolved.append(None if param is None else float(param.default))
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not param.minimum <= value <= param.maximum:
            raise PreprocessorError(
                f"{spec.name} {field} ({param.label}) must be between {param.minimum:g} and {param.maximum:g}, got {value!r}.")
        resolved.append(float(value))
    return resolved[0], resolved[1]
