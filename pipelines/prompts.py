"""Prompt encoding that keeps every token: A1111-style 75-token chunks, each encoded and concatenated."""

from __future__ import annotations

from dataclasses import dataclass

import torch

CHUNK = 75  # CLIP sees 77 positions: BOS + 75 tokens + EOS


@dataclass
class PromptEmbeds:
    """Both sides of CFG; SDXL adds each side's pooled text embedding (its UNet and ControlNets read it)."""

    cond: torch.Tensor
    uncond: torch.Tensor
    pooled: torch.Tensor | None = None
    uncond_pooled: torch.Tensor | None = None


def _chunks(tokenizer, text: str) -> list[list[int]]:
    ids = tokenizer(text, add_special_tokens=False, truncation=False).input_ids
    return [ids[start : start + CHUNK] for start in range(0, len(ids), CHUNK)] or [[]]


def _window(tokenizer, chunk: list[int], device: torch.device) -> torch.Tensor:
    """One chunk as the 77 ids diffusers' tokenizer call gives a short prompt: BOS, tokens, EOS, padding."""
    ids = [tokenizer.bos_token_id, *chunk, tokenizer.eos_token_id]
    ids += [tokenizer.pad_token_id] * (CHUNK + 2 - len(ids))
    return torch.tensor([ids], device=device)


def _padded(tokenizer, prompt: str, negative_prompt: str) -> tuple[list[list[int]], list[list[int]]]:
    """Both prompts split into the same number of chunks (the shorter side gets empty ones), so CFG can stack them."""
    positive, negative = _chunks(tokenizer, prompt), _chunks(tokenizer, negative_prompt)
    count = max(len(positive), len(negative))
    return positive + [[]] * (count - len(positive)), negative + [[]] * (count - len(negative))


def encode_prompt_pair(
    text_encoder, tokenizer, prompt: str, negative_prompt: str, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode both prompts with the same number of chunks, so CFG can stack them in one batch.

    A prompt of up to 75 tokens gives exactly what diffusers' own encode_prompt gives (one padded
    77-token window); longer prompts are split every 75 tokens as A1111 does, instead of being
    truncated, and the empty side is padded with encoded empty chunks.
    """
    positive, negative = _padded(tokenizer, prompt, negative_prompt)
    with torch.no_grad():
        cond = torch.cat([text_encoder(_window(tokenizer, chunk, device))[0] for chunk in positive], dim=1)
        uncond = torch.cat([text_encoder(_window(tokenizer, chunk, device))[0] for chunk in negative], dim=1)
    return cond, uncond


def _encode_xl(base, chunks: list[list[int]], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """SDXL as diffusers encodes it: each encoder's penultimate hidden states side by side; the pooled embedding is
    the second encoder's projection of the first chunk (as A1111 takes it)."""
    windows, pooled = [], None
    for chunk in chunks:
        states = []
        for encoder, tokenizer in ((base.text_encoder, base.tokenizer), (base.text_encoder_2, base.tokenizer_2)):
            out = encoder(_window(tokenizer, chunk, device), output_hidden_states=True)
            states.append(out.hidden_states[-2])
            if pooled is None and encoder is base.text_encoder_2:
                pooled = out[0]
        windows.append(torch.cat(states, dim=-1))
    return torch.cat(windows, dim=1), pooled


def encode_prompts(base, prompt: str, negative_prompt: str) -> PromptEmbeds:
    """Whatever the base model's architecture needs from the prompts (`base`: a loading.BaseModel)."""
    if base.text_encoder_2 is None:
        return PromptEmbeds(*encode_prompt_pair(base.text_encoder, base.tokenizer, prompt, negative_prompt, base.device))
    positive, negative = _padded(base.tokenizer, prompt, negative_prompt)
    with torch.no_grad():
        cond, pooled = _encode_xl(base, positive, base.device)
        if not negative_prompt and base.force_zeros_for_empty_prompt:  # A1111 and diffusers: zeros, not an encoded ""
            return PromptEmbeds(cond, torch.zeros_like(cond), pooled, torch.zeros_like(pooled))
        uncond, uncond_pooled = _encode_xl(base, negative, base.device)
    return PromptEmbeds(cond, uncond, pooled, uncond_pooled)
