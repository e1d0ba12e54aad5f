"""Shared benchmark helpers: interleaved timing, summary statistics, machine facts, JSON output."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, object]:
    """What the figures were measured on (they mean nothing without it)."""
    import torch

    info: dict[str, object] = {"cpu_cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                               "torch": torch.__version__, "threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(candidates: dict[str, Callable[[], object]], rounds: int, warmup: int = 1) -> dict[str, list[float]]:
    """Run A, B, A, B, ... so drift (thermal, other load) hits both sides equally."""
    for _ in range(warmup):
        for fn in candidates.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            times[name].append(timed(fn))
    return times


def summary(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values), "n": len(values)}


def ratio_summary(numerator: list[float], denominator: list[float]) -> dict[str, float]:
    """Per-round ratios (each pair ran back to back), summarised."""
    return summary([a / b for a, b in zip(numerator, denominator)])


def write(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2, default=str))
    return path


def table(rows: list[list[object]], headers: list[str]) -> str:
    """A Markdown table, printed by every script and pasted into BENCHMARKS.md."""
    def cell(value: object) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
