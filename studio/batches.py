"""Batch count (A1111's "Batch count", its API's n_iter): batches in a row on one seed sequence, for every surface."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from pipelines.cancel import CancelToken, JobTimedOut
from pipelines.denoise import JobCancelled
from pipelines.engine import StepUpdate
from pipelines.limits import Limits
from pipelines.requests import GenerationRequest, GenerationResult, check_budget
from pipelines.schema import number
from pipelines.seeds import share_random_seed


@dataclass(frozen=True)
class Batches:
    """The batches that finished, in order; `interrupted` when Stop (or an API interrupt) ended the rest."""

    results: list[GenerationResult]
    interrupted: bool

    def images(self) -> list[tuple]:
        """(image, seed, infotext) per image, across batches: what a gallery and its selection show."""
        return [row for result in self.results for row in zip(result.images, result.seeds, result.infotexts)]


def check_batch_count(request: GenerationRequest, count: object, limits: Limits, name: str = "batch_count") -> int:
    """A whole number in range, and the whole job's budget (every batch's images) within the server's."""
    count = number(name, count, 1, limits.max_batch_count, integer=True)
    check_budget(replace(request, units=()), count, limits)
    return count


def run_batches(generate: Callable[..., GenerationResult], request: GenerationRequest, count: int,
                on_step: Callable[[int, StepUpdate], None], cancel: CancelToken, keep_copy: bool | None) -> Batches:
    """`count` batches with seeds continuing across them (A1111: the image at index i gets seed + i). Stop keeps the
    batches already finished, as A1111 does; the job's time limit is an error."""
    first = share_random_seed([request])[0]
    results = []
    for batch in range(count):
        try:
            results.append(generate(replace(first, seed=first.seed + batch * first.batch_size),
                                    on_step=lambda update, batch=batch: on_step(batch, update), cancel=cancel,
                                    keep_copy=keep_copy))
        except JobTimedOut:
            raise
        except JobCancelled:
            return Batches(results, True)
    return Batches(results, False)
