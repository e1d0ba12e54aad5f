"""Write the tiny SDXL base as an original (sgm) single-file checkpoint, the layout SDXL .safetensors files on the hub
and Civitai have: the UNet and VAE as SD1.5's (plus `label_emb` for the pooled text and sizes), the first text encoder
under `conditioner.embedders.0.transformer.`, the second in OpenCLIP's layout under `conditioner.embedders.1.model.`
(q, k, v fused into one in_proj; the projection transposed). diffusers ships only the other direction; the tests
check this writer against diffusers' own converters, so a wrong key fails loudly instead of loading random weights."""

from __future__ import annotations

import re

import torch

from tests.pipelines.ldm_checkpoint import _unet_upsamplers, unet_key, vae_key

_OPEN_CLIP_LAYER = (("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"), ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj"),
                    ("self_attn.out_proj", "attn.out_proj"))
_OPEN_CLIP_FIXED = {"text_model.embeddings.position_embedding.weight": "positional_embedding",
                    "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
                    "text_model.final_layer_norm.weight": "ln_final.weight",
                    "text_model.final_layer_norm.bias": "ln_final.bias"}


def _unet(unet) -> dict[str, torch.Tensor]:
    layers = unet.config.layers_per_block
    state = unet.state_dict()
    out = {}
    for key, value in state.items():
        if match := re.fullmatch(r"add_embedding\.linear_([12])\.(.+)", key):
            out[f"label_emb.0.{0 if match[1] == '1' else 2}.{match[2]}"] = value
        elif ".upsamplers." not in key:
            out[unet_key(key, layers)] = value
    out.update(_unet_upsamplers(state, layers))
    return {"model.diffusion_model." + key: value for key, value in out.items()}


def _open_clip(encoder) -> dict[str, torch.Tensor]:
    state = {k if k.startswith(("text_model.", "text_projection")) else "text_model." + k: v
             for k, v in encoder.state_dict().items()}
    out = {"text_projection": state.pop("text_projection.weight").T}
    for key, ldm in _OPEN_CLIP_FIXED.items():
        out[ldm] = state.pop(key)
    state.pop("text_model.embeddings.position_ids", None)
    for layer in range(encoder.config.num_hidden_layers):
        here = f"text_model.encoder.layers.{layer}."
        there = f"transformer.resblocks.{layer}."
        for kind in ("weight", "bias"):
            out[f"{there}attn.in_proj_{kind}"] = torch.cat([state.pop(f"{here}self_attn.{p}_proj.{kind}") for p in "qkv"])
        for new, old in _OPEN_CLIP_LAYER:
            for kind in ("weight", "bias"):
                out[f"{there}{old}.{kind}"] = state.pop(f"{here}{new}.{kind}")
    assert not state, f"OpenCLIP names missing for {sorted(state)}"
    return out


def sdxl_to_ldm(parts) -> dict[str, torch.Tensor]:
    """One state dict in SDXL's original single-file layout (`parts`: TinySDXLComponents)."""
    out = _unet(parts.unet)
    ups = len(parts.vae.config.up_block_types)
    for key, value in parts.vae.state_dict().items():
        if ".mid_block.attentions.0." in key and value.dim() == 2:
            value = value[:, :, None, None]  # the original VAE's attention uses 1x1 convolutions
        out["first_stage_model." + vae_key(key, ups)] = value
    for key, value in parts.text_encoder.state_dict().items():
        key = key if key.startswith("text_model.") else "text_model." + key
        out["conditioner.embedders.0.transformer." + key] = value
    out.update({"conditioner.embedders.1.model." + k: v for k, v in _open_clip(parts.text_encoder_2).items()})
    return {key: value.contiguous() for key, value in out.items()}
