"""The built-in `tiny` model: the real SD1.5 + ControlNet classes at toy size with seeded random weights.

It is untrained: it exists so tests, benchmarks and a first look at the UI need no download.
Everything that shows it says so (see UNTRAINED_NOTICE).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

UNTRAINED_NOTICE = (
    "You are using the built-in tiny model: its weights are random, so images are noise-like patterns. "
    "Start the app with --model stable-diffusion-v1-5/stable-diffusion-v1-5 (or a local checkpoint) for real pictures."
)
BUILT_IN_MODELS = ("tiny", "tiny-sdxl")  # the untrained ones: every place that shows the model says so
TINY_CONDITIONS = ("canny", "lineart", "lineart_anime", "softedge", "openpose", "depth", "normal", "tile", "inpaint",
                   "scribble", "shuffle", "mlsd", "seg", "ip2p")
SD15_SCHEDULER_CONFIG = {
    "_class_name": "PNDMScheduler",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}
_BLOCKS = (32, 64)
_CROSS_DIM = 32


@dataclass
class TinyComponents:
    """The base model parts plus one ControlNet per condition, as diffusers objects."""

    unet: "torch.nn.Module"
    vae: "torch.nn.Module"
    text_encoder: "torch.nn.Module"
    tokenizer: object
    scheduler_config: dict
    controlnets: dict


def _byte_vocab() -> dict[str, int]:
    """A CLIP-style vocabulary of single byte-level characters, so any text (unicode too) tokenizes."""
    from tokenizers.pre_tokenizers import ByteLevel

    symbols = sorted(ByteLevel.alphabet())
    tokens = symbols + [symbol + "</w>" for symbol in symbols] + ["<|startoftext|>", "<|endoftext|>"]
    return {token: index for index, token in enumerate(tokens)}


def write_tokenizer_files(folder: Path) -> Path:
    """Write vocab.json and merges.txt in CLIP's format (no merges: every character is a token)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(_byte_vocab(), ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return folder


def build_tokenizer(folder: Path | None = None):
    """Load the tiny vocabulary through CLIPTokenizer, the class SD1.5 uses."""
    import tempfile

    from transformers import CLIPTokenizer

    if folder is not None:
        write_tokenizer_files(folder)
        return CLIPTokenizer(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"), model_max_length=77)
    with tempfile.TemporaryDirectory(prefix="tiny-tokenizer-") as scratch:
        return build_tokenizer(Path(scratch))


def _unet_kwargs() -> dict:
    return dict(
        block_out_channels=_BLOCKS,
        layers_per_block=2,
        in_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        cross_attention_dim=_CROSS_DIM,
        norm_num_groups=8,
    )


def build_unet():
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    return UNet2DConditionModel(
        sample_size=32,
        out_channels=4, up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), **_unet_kwargs()
    ).eval()


def build_controlnet(condition: str):
    """One ControlNet per condition, each seeded by its name so they differ but are reproducible."""
    from diffusers import ControlNetModel

    torch.manual_seed(1 + TINY_CONDITIONS.index(condition) if condition in TINY_CONDITIONS else 99)
    # shuffle's v1.1 model pools its residuals over the picture (global_pool_conditions), as the tiny one does
    net = ControlNetModel(conditioning_embedding_out_channels=(8, 16, 16, 32), global_pool_conditions=condition == "shuffle",
                          **_unet_kwargs())
    # Untrained ControlNets have zero-initialised output convolutions; make them non-zero so control has an effect.
    with torch.no_grad():
        for block in [*net.controlnet_down_blocks, net.controlnet_mid_block]:
            torch.nn.init.normal_(block.weight, std=0.3)
    return net.eval()


def build_vae():
    """Four blocks, three downsamples: the real 8x latent scale, at toy width."""
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    return AutoencoderKL(
        block_out_channels=(8, 16, 16, 16),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        norm_num_groups=8,
        layers_per_block=1,
        scaling_factor=0.18215,
    ).eval()


def build_text_encoder(vocab_size: int):
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    vocab = _byte_vocab()
    config = CLIPTextConfig(
        bos_token_id=vocab["<|startoftext|>"],
        eos_token_id=vocab["<|endoftext|>"],
        pad_token_id=vocab["<|endoftext|>"],
        hidden_size=_CROSS_DIM,
        intermediate_size=37,
        layer_norm_eps=1e-05,
        num_attention_heads=4,
        num_hidden_layers=3,
        vocab_size=vocab_size,
        max_position_embeddings=77,
    )
    return CLIPTextModel(config).eval()


def build_tiny(conditions: tuple[str, ...] = TINY_CONDITIONS) -> TinyComponents:
    """Build every part in well under 3 s on CPU; the same call always gives the same weights."""
    tokenizer = build_tokenizer()
    return TinyComponents(
        unet=build_unet(),
        vae=build_vae(),
        text_encoder=build_text_encoder(len(tokenizer)),
        tokenizer=tokenizer,
        scheduler_config=dict(SD15_SCHEDULER_CONFIG),
        controlnets={condition: build_controlnet(condition) for condition in conditions},
    )


def save_tiny_base(folder: Path, components: TinyComponents | None = None, variant: str | None = None) -> Path:
    """Save the base model as a diffusers folder with SD1.5's layout (model_index.json, unet/, vae/, ...)."""
    from diffusers import PNDMScheduler, StableDiffusionPipeline

    components = components or build_tiny(conditions=())
    pipe = StableDiffusionPipeline(
        vae=components.vae,
        text_encoder=components.text_encoder,
        tokenizer=components.tokenizer,
        unet=components.unet,
        scheduler=PNDMScheduler.from_config(components.scheduler_config),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, variant=variant)
    return Path(folder)
