"""Seeds and batching keys: A1111's seed conventions, and what rows must share to run as one UNet batch."""

from __future__ import annotations

import random
from dataclasses import replace

from pipelines.requests import MAX_SEED, GenerationRequest
from pipelines.schema import schema_fields


def concrete_seed(request: GenerationRequest) -> GenerationRequest:
    """-1 means random, but the seed actually used is recorded so the image can be reproduced."""
    return request if request.seed >= 0 else replace(request, seed=random.randrange(MAX_SEED + 1))


def share_random_seed(cells: list[GenerationRequest]) -> list[GenerationRequest]:
    """Cells that ask for a random seed share one (the first cell's, once concrete), so a matrix compares settings,
    not luck; wherever the cells then run (one engine, or split over replicas)."""
    if all(cell.seed >= 0 for cell in cells):
        return cells
    shared = concrete_seed(cells[0]).seed
    return [cell if cell.seed >= 0 else replace(cell, seed=shared) for cell in cells]


def batch_key(request: GenerationRequest) -> tuple:
    """What rows of one UNet batch must share: every setting but the seed (one prompt encoding, one scheduler, one
    latent size, one CFG scale, one way of starting from a picture), and the same picture and mask objects (a matrix's
    cells share them)."""
    return (*(getattr(request, item.name) for item in schema_fields(GenerationRequest) if item.name != "seed"),
            id(request.init_image), id(request.mask))


def batch_seeds(request: GenerationRequest) -> list[int]:
    """A1111's convention: image i of a batch uses seed + i (wrapping at 2**32)."""
    return [(request.seed + i) % (MAX_SEED + 1) for i in range(request.batch_size)]
