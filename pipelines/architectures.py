"""Base-model architectures as data: what each one's defaults are and which ControlNet serves each condition on it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

SDXL_UNION = "xinsir/controlnet-union-sdxl-1.0"  # its ProMax weights: config_promax.json + *_promax.safetensors
# xinsir's control types (model card; diffusers' union example uses 3 for line art, ComfyUI's SetUnionControlNetType
# lists the same eight): 0 openpose, 1 depth, 2 hed/pidi/scribble/teed, 3 canny/lineart/anime lineart/mlsd, 4 normal,
# 5 segment, 6 tile, 7 repaint (ProMax only).
UNION_TYPES: Mapping[str, int] = MappingProxyType({
    "openpose": 0, "depth": 1, "softedge": 2, "scribble": 2, "canny": 3, "lineart": 3, "lineart_anime": 3, "mlsd": 3,
    "normal": 4, "seg": 5, "tile": 6, "inpaint": 7,
})
UNION_TYPE_NAMES = ("openpose", "depth", "hed/pidi/scribble/teed", "canny/lineart/anime_lineart/mlsd", "normal",
                    "segment", "tile", "repaint")


@dataclass(frozen=True)
class Architecture:
    """One family of base models: its defaults, and the ControlNets trained for it."""

    name: str  # the infotext's and the API's value
    label: str  # what sentences call it
    default_model: str
    default_size: int
    controlnets: Mapping[str, str]  # condition -> the default ControlNet
    # ControlNets an artist may pick per unit instead of the default (id -> the condition it was trained on)
    alternatives: Mapping[str, str] = field(default_factory=dict)
    lcm_lora: str = ""
    taesd: str = ""
    fp16_vae: str = ""  # a VAE that stays finite in fp16, used instead of the model's own on fp16 devices


SD15 = Architecture(
    name="sd15", label="SD1.5", default_model="stable-diffusion-v1-5/stable-diffusion-v1-5", default_size=512,
    controlnets=MappingProxyType({
        "canny": "lllyasviel/control_v11p_sd15_canny",
        "lineart": "lllyasviel/control_v11p_sd15_lineart",
        "lineart_anime": "lllyasviel/control_v11p_sd15s2_lineart_anime",
        "softedge": "lllyasviel/control_v11p_sd15_softedge",
        "openpose": "lllyasviel/control_v11p_sd15_openpose",
        "depth": "lllyasviel/control_v11f1p_sd15_depth",
        "normal": "lllyasviel/control_v11p_sd15_normalbae",
        "scribble": "lllyasviel/control_v11p_sd15_scribble",
        "mlsd": "lllyasviel/control_v11p_sd15_mlsd",
        "shuffle": "lllyasviel/control_v11e_sd15_shuffle",
        "seg": "lllyasviel/control_v11p_sd15_seg",
        "ip2p": "lllyasviel/control_v11e_sd15_ip2p",
        "tile": "lllyasviel/control_v11f1e_sd15_tile",
        "inpaint": "lllyasviel/control_v11p_sd15_inpaint",
    }),
    lcm_lora="latent-consistency/lcm-lora-sdv1-5", taesd="madebyollin/taesd",
)
SDXL = Architecture(
    name="sdxl", label="SDXL", default_model="stabilityai/stable-diffusion-xl-base-1.0", default_size=1024,
    controlnets=MappingProxyType(dict.fromkeys(UNION_TYPES, SDXL_UNION)),
    alternatives=MappingProxyType({
        "xinsir/controlnet-canny-sdxl-1.0": "canny",
        "TheMistoAI/MistoLine": "lineart",
        "diffusers/controlnet-depth-sdxl-1.0": "depth",
        "xinsir/controlnet-openpose-sdxl-1.0": "openpose",
    }),
    lcm_lora="latent-consistency/lcm-lora-sdxl", taesd="madebyollin/taesdxl", fp16_vae="madebyollin/sdxl-vae-fp16-fix",
)
ARCHITECTURES: Mapping[str, Architecture] = MappingProxyType({arch.name: arch for arch in (SD15, SDXL)})
CONDITIONS: tuple[str, ...] = tuple(SD15.controlnets)
KNOWN_CONTROLNETS: tuple[str, ...] = tuple(dict.fromkeys(
    model for arch in ARCHITECTURES.values() for model in (*arch.controlnets.values(), *arch.alternatives)))


def default_controlnets(condition: str) -> set[str]:
    """Every architecture's default ControlNet for a condition (infotext writes these by their short names)."""
    return {arch.controlnets[condition] for arch in ARCHITECTURES.values() if condition in arch.controlnets}


class WrongArchitecture(ValueError):
    """A ControlNet trained for another base model: its residuals would not fit the UNet ("mat1 and mat2 shapes")."""


def architecture_of(config: Mapping) -> Architecture:
    """A UNet's or ControlNet's config says its architecture: SDXL's embed the pooled text and sizes ("text_time")."""
    return SDXL if config.get("addition_embed_type") == "text_time" else SD15


def union_type(config: Mapping, condition: str) -> int | None:
    """The control type a union ControlNet is told for this condition; None for a single-condition ControlNet."""
    return UNION_TYPES[condition] if "num_control_type" in config else None


def check_fits(config: Mapping, model_id: str, base: Architecture, base_name: str) -> None:
    """Refuse a ControlNet of another architecture with a sentence naming both, before it meets the UNet."""
    own = architecture_of(config)
    if own is not base:
        raise WrongArchitecture(
            f"The ControlNet {model_id} is made for {own.label} models, but the model {base_name} is {base.label}; "
            f"choose an {base.label} ControlNet for this unit (or leave its model blank for the default).")
