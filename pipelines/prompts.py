"""Prompt encoding that keeps every token: A1111-style 75-token chunks, each encoded and concatenated."""

from __future__ import annotations

import torch

CHUNK = 75  # CLIP sees 77 positions: BOS + 75 tokens + EOS


def _chunks(tokenizer, text: str) -> list[list[int]]:
    ids = tokenizer(text, add_special_tokens=False, truncation=False).input_ids
    return [ids[start : start + CHUNK] for start in range(0, len(ids), CHUNK)] or [[]]


def _encode_chunk(text_encoder, tokenizer, chunk: list[int], device: torch.device) -> torch.Tensor:
    pad = tokenizer.pad_token_id
    ids = [tokenizer.bos_token_id, *chunk, tokenizer.eos_token_id]
    ids += [pad] * (CHUNK + 2 - len(ids))
    tensor = torch.tensor([ids], device=device)
    return text_encoder(tensor)[0]


def encode_prompt_pair(
    text_encoder, tokenizer, prompt: str, negative_prompt: str, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode both prompts with the same number of chunks, so CFG can stack them in one batch.

    A prompt of up to 75 tokens gives exactly what diffusers' own encode_prompt gives (one padded
    77-token window); longer prompts are split every 75 tokens as A1111 does, instead of being
    truncated, and the empty side is padded with encoded empty chunks.
    """
    positive, negative = _chunks(tokenizer, prompt), _chunks(tokenizer, negative_prompt)
    count = max(len(positive), len(negative))
    positive += [[]] * (count - len(positive))
    negative += [[]] * (count - len(negative))
    with torch.no_grad():
        cond = torch.cat([_encode_chunk(text_encoder, tokenizer, chunk, device) for chunk in positive], dim=1)
        uncond = torch.cat([_encode_chunk(text_encoder, tokenizer, chunk, device) for chunk in negative], dim=1)
    return cond, uncond
