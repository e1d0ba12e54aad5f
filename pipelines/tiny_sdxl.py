"""The built-in `tiny-sdxl` model: SDXL's real classes (two text encoders, the text_time UNet, the union ControlNet)
at toy size with seeded random weights. Untrained, like `tiny`: for tests, benchmarks and a first look at the UI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from pipelines.tiny import build_tokenizer, build_vae

SDXL_SCHEDULER_CONFIG = {  # stabilityai/stable-diffusion-xl-base-1.0's scheduler/scheduler_config.json
    "_class_name": "EulerDiscreteScheduler",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "interpolation_type": "linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "sample_max_value": 1.0,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "trained_betas": None,
    "use_karras_sigmas": False,
}
# The text encoders' widths differ, as SDXL's 768 and 1280 do (diffusers tells a single file's two encoders apart by
# width); the UNet cross-attends to both, concatenated, and reads the second one's projection as the pooled text.
_HIDDEN, _HIDDEN_2 = 32, 48
_TIME_DIM = 8  # addition_time_embed_dim: each of the six size/crop numbers gets this many sinusoid channels


@dataclass
class TinySDXLComponents:
    unet: torch.nn.Module
    vae: torch.nn.Module
    text_encoder: torch.nn.Module
    text_encoder_2: torch.nn.Module
    tokenizer: object
    tokenizer_2: object
    scheduler_config: dict


def _unet_kwargs() -> dict:
    return dict(
        block_out_channels=(32, 64), layers_per_block=2, in_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), attention_head_dim=(2, 4),
        use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=_TIME_DIM,
        transformer_layers_per_block=(1, 2), projection_class_embeddings_input_dim=_HIDDEN_2 + 6 * _TIME_DIM,
        cross_attention_dim=_HIDDEN + _HIDDEN_2, norm_num_groups=8,
    )


def build_unet():
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    return UNet2DConditionModel(sample_size=32, out_channels=4, up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
                                **_unet_kwargs()).eval()


def _randomise_outputs(net) -> None:
    """Untrained ControlNets have zero output convolutions (no effect at all); random ones let control show."""
    with torch.no_grad():
        for block in [*net.controlnet_down_blocks, net.controlnet_mid_block]:
            torch.nn.init.normal_(block.weight, std=0.3)


def build_union_controlnet():
    """ProMax's shape: eight control types, each telling the network a different task."""
    from diffusers import ControlNetUnionModel

    torch.manual_seed(11)
    net = ControlNetUnionModel(conditioning_embedding_out_channels=(8, 16, 16, 32), num_control_type=8,
                               num_trans_channel=32, num_trans_head=4, num_trans_layer=1, num_proj_channel=32,
                               **_unet_kwargs())
    _randomise_outputs(net)
    with torch.no_grad():  # trained task embeddings are what make one control type read a map unlike another
        torch.nn.init.normal_(net.task_embedding, std=1.0)
        for layer in (net.control_add_embedding.linear_1, net.control_add_embedding.linear_2):
            torch.nn.init.normal_(layer.weight, std=0.5)
    return net.eval()


def build_single_controlnet(seed: int = 12):
    """A single-condition SDXL ControlNet (as xinsir's canny or MistoLine), seeded so each built one is the same."""
    from diffusers import ControlNetModel

    torch.manual_seed(seed)
    net = ControlNetModel(conditioning_embedding_out_channels=(8, 16, 16, 32), **_unet_kwargs())
    _randomise_outputs(net)
    return net.eval()


def _text_config(vocab_size: int, tokenizer, hidden: int, **extra):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        hidden_size=hidden, intermediate_size=37, layer_norm_eps=1e-05, num_attention_heads=4, num_hidden_layers=3,
        vocab_size=vocab_size, max_position_embeddings=77, hidden_act="gelu", **extra)


def build_tiny_sdxl() -> TinySDXLComponents:
    """Every part in a few seconds on CPU; the same call always gives the same weights."""
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    tokenizer, tokenizer_2 = build_tokenizer(), build_tokenizer()
    tokenizer_2.pad_token = "!"  # SDXL's second tokenizer pads with "!", not with the end token
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(_text_config(len(tokenizer), tokenizer, _HIDDEN)).eval()
    torch.manual_seed(1)
    text_encoder_2 = CLIPTextModelWithProjection(_text_config(len(tokenizer), tokenizer, _HIDDEN_2,
                                                              projection_dim=_HIDDEN_2)).eval()
    vae = build_vae()
    vae.register_to_config(scaling_factor=0.13025)  # SDXL's VAE scale
    return TinySDXLComponents(build_unet(), vae, text_encoder, text_encoder_2, tokenizer, tokenizer_2,
                              dict(SDXL_SCHEDULER_CONFIG))


def save_tiny_sdxl_base(folder: Path, components: TinySDXLComponents | None = None, variant: str | None = None) -> Path:
    """The base model as a diffusers folder with SDXL's layout (text_encoder_2/, tokenizer_2/, ...)."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline

    c = components or build_tiny_sdxl()
    pipe = StableDiffusionXLPipeline(vae=c.vae, text_encoder=c.text_encoder, text_encoder_2=c.text_encoder_2,
                                     tokenizer=c.tokenizer, tokenizer_2=c.tokenizer_2, unet=c.unet,
                                     scheduler=EulerDiscreteScheduler.from_config(c.scheduler_config))
    pipe.save_pretrained(folder, variant=variant)
    return Path(folder)


def built_in_controlnet(model: str, condition: str) -> torch.nn.Module:
    """The built-in models bring their own ControlNets: one per condition for `tiny`, the union one for `tiny-sdxl`."""
    if model == "tiny-sdxl":
        return build_union_controlnet()
    from pipelines.tiny import build_controlnet

    return build_controlnet(condition)
