"""Write the tiny base model as an original-SD (LDM) single-file checkpoint, so `from_single_file` runs offline.

diffusers ships only the LDM -> diffusers direction; this is its inverse for the tiny model's layout
(2 UNet blocks, 2 layers each; a 4-block VAE). `to_ldm` is checked against diffusers' own converters in
the tests, so a wrong key here fails loudly instead of loading random weights.
"""

from __future__ import annotations

import re

import torch

_UNET_RESNET = (("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("norm2", "out_layers.0"),
                ("conv2", "out_layers.3"), ("time_emb_proj", "emb_layers.1"), ("conv_shortcut", "skip_connection"))
_UNET_FIXED = {"time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
               "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2"}
_VAE_FIXED = {"encoder.conv_norm_out": "encoder.norm_out", "decoder.conv_norm_out": "decoder.norm_out"}
_VAE_ATTENTION = (("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"), ("to_v", "v"), ("to_out.0", "proj_out"))


def _resnet(rest: str) -> str:
    for new, old in _UNET_RESNET:
        if rest.startswith(new + "."):
            return old + rest[len(new):]
    return rest


def unet_key(key: str, layers_per_block: int) -> str:
    """diffusers UNet2DConditionModel key -> `model.diffusion_model.` key."""
    step = layers_per_block + 1
    head, _, tail = key.rpartition(".")
    if head in _UNET_FIXED:
        return f"{_UNET_FIXED[head]}.{tail}"
    if match := re.fullmatch(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", key):
        block, kind, layer, rest = int(match[1]), match[2], int(match[3]), match[4]
        index = 1 + block * step + layer
        return f"input_blocks.{index}.0.{_resnet(rest)}" if kind == "resnets" else f"input_blocks.{index}.1.{rest}"
    if match := re.fullmatch(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)", key):
        return f"input_blocks.{1 + int(match[1]) * step + layers_per_block}.0.op.{match[2]}"
    if match := re.fullmatch(r"mid_block\.(resnets|attentions)\.(\d+)\.(.+)", key):
        kind, layer, rest = match[1], int(match[2]), match[3]
        return f"middle_block.{2 * layer}.{_resnet(rest)}" if kind == "resnets" else f"middle_block.1.{rest}"
    if match := re.fullmatch(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", key):
        block, kind, layer, rest = int(match[1]), match[2], int(match[3]), match[4]
        index = block * step + layer
        return f"output_blocks.{index}.0.{_resnet(rest)}" if kind == "resnets" else f"output_blocks.{index}.1.{rest}"
    raise KeyError(f"no LDM name for UNet key {key}")


def _unet_upsamplers(state: dict[str, torch.Tensor], layers_per_block: int) -> dict[str, torch.Tensor]:
    """Upsamplers sit after the block's last layer: slot 2 when the block has attention, else slot 1."""
    out = {}
    for key, value in state.items():
        if match := re.fullmatch(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)", key):
            block = int(match[1])
            slot = 2 if any(k.startswith(f"up_blocks.{block}.attentions.") for k in state) else 1
            out[f"output_blocks.{block * (layers_per_block + 1) + layers_per_block}.{slot}.conv.{match[2]}"] = value
    return out


def vae_key(key: str, num_up_blocks: int) -> str:
    """diffusers AutoencoderKL key -> `first_stage_model.` key (decoder up blocks are numbered in reverse)."""
    head, _, tail = key.rpartition(".")
    if head in _VAE_FIXED:
        return f"{_VAE_FIXED[head]}.{tail}"
    if match := re.fullmatch(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.+)", key):
        rest = match[2]
        for new, old in _VAE_ATTENTION:
            if rest.startswith(new + "."):
                rest = old + rest[len(new):]
        return f"{match[1]}.mid.attn_1.{rest}"
    key = key.replace("conv_shortcut", "nin_shortcut")
    if match := re.fullmatch(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.+)", key):
        return f"{match[1]}.mid.block_{int(match[2]) + 1}.{match[3]}"
    if match := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.resnets\.(.+)", key):
        return f"encoder.down.{match[1]}.block.{match[2]}"
    if match := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.(.+)", key):
        return f"encoder.down.{match[1]}.downsample.{match[2]}"
    if match := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.resnets\.(.+)", key):
        return f"decoder.up.{num_up_blocks - 1 - int(match[1])}.block.{match[2]}"
    if match := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.(.+)", key):
        return f"decoder.up.{num_up_blocks - 1 - int(match[1])}.upsample.{match[2]}"
    return key  # conv_in, conv_out, quant_conv, post_quant_conv keep their names


def to_ldm(unet, vae, text_encoder) -> dict[str, torch.Tensor]:
    """One state dict in the original SD1.x single-file layout."""
    layers = unet.config.layers_per_block
    unet_state = unet.state_dict()
    out = {}
    for key, value in unet_state.items():
        if ".upsamplers." not in key:
            out["model.diffusion_model." + unet_key(key, layers)] = value
    out.update({"model.diffusion_model." + k: v for k, v in _unet_upsamplers(unet_state, layers).items()})
    ups = len(vae.config.up_block_types)
    for key, value in vae.state_dict().items():
        if ".mid_block.attentions.0." in key and value.dim() == 2:
            value = value[:, :, None, None]  # LDM's VAE attention uses 1x1 convolutions
        out["first_stage_model." + vae_key(key, ups)] = value
    for key, value in text_encoder.state_dict().items():
        # SD checkpoints name CLIP's layers `text_model.*`; transformers >= 5.6 dropped that level in CLIPTextModel
        key = key if key.startswith("text_model.") else "text_model." + key
        out["cond_stage_model.transformer." + key] = value
    return {key: value.contiguous() for key, value in out.items()}


def controlnet_key(key: str, layers_per_block: int) -> str:
    """diffusers ControlNetModel key -> the original ControlNet key (without the `control_model.` prefix)."""
    if match := re.fullmatch(r"controlnet_down_blocks\.(\d+)\.(.+)", key):
        return f"zero_convs.{match[1]}.0.{match[2]}"
    if match := re.fullmatch(r"controlnet_mid_block\.(.+)", key):
        return f"middle_block_out.0.{match[1]}"
    if match := re.fullmatch(r"controlnet_cond_embedding\.(conv_in|conv_out|blocks\.(\d+))\.(.+)", key):
        index = 0 if match[1] == "conv_in" else 14 if match[1] == "conv_out" else 2 * (int(match[2]) + 1)
        return f"input_hint_block.{index}.{match[3]}"
    return unet_key(key, layers_per_block)


def controlnet_to_ldm(net) -> dict[str, torch.Tensor]:
    """A ControlNet as the single `.safetensors` file A1111 users download (`control_model.*` keys)."""
    layers = net.config.layers_per_block
    return {"control_model." + controlnet_key(k, layers): v.contiguous() for k, v in net.state_dict().items()}
