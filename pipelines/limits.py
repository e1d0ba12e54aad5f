"""Limits shared by the UI's slider ranges and the server-side checks, read from the environment once."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Limits:
    """Every bound a request is checked against; the UI draws its sliders from the same numbers."""

    min_side: int = 64
    max_side: int = 2048
    max_steps: int = 150
    max_batch: int = 8
    max_batch_count: int = 16  # batches in a row (A1111's batch count, its API's n_iter); the budget covers them all
    max_units: int = 3
    max_prompt_chars: int = 10_000
    max_cfg: float = 30.0
    max_weight: float = 2.0
    min_processor_res: int = 64
    max_processor_res: int = 2048
    # A control map may hold as many pixels as the largest square one; thin strips are refused, not scaled up.
    max_map_pixels: int = 2048 * 2048
    max_map_aspect: float = 16.0
    # What one job may cost, decided before it starts: output megapixels summed over every image (batch x
    # conditions), and megapixel-steps (that sum x steps), the work the sampler does.
    max_job_megapixels: float = 16.0
    max_job_work: float = 256.0
    max_job_seconds: float = 900.0  # a job still running then is stopped, API calls included
    # An XY matrix: values on its row axis, and cells (columns x rows); the job budget above still applies to it.
    max_matrix_rows: int = 12
    max_matrix_cells: int = 36

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Limits":
        """Let an operator tighten limits (e.g. STUDIO_MAX_STEPS=40) without touching code."""
        environ = dict(os.environ if environ is None else environ)
        values = {}
        for field in fields(cls):
            raw = environ.get(f"STUDIO_{field.name.upper()}")
            if raw is not None:
                values[field.name] = type(field.default)(raw)
        return cls(**values)


DEFAULT_LIMITS = Limits()
