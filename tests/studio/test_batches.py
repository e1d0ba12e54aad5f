"""Batch count: seeds continue across batches, Stop keeps the finished ones, and the whole job's cost is checked first."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PIL import Image

from pipelines.cancel import CancelToken
from pipelines.denoise import JobCancelled
from pipelines.limits import Limits
from pipelines.requests import GenerationRequest, GenerationResult, RequestError
from studio.batches import check_batch_count, run_batches


class FakeGenerate:
    """Stands in for Studio.generate: records each batch's request, stops when told to."""

    def __init__(self, stop_at: int | None = None):
        self.requests, self.stop_at = [], stop_at

    def __call__(self, request, on_step, cancel, keep_copy):
        if len(self.requests) == self.stop_at:
            raise JobCancelled()
        self.requests.append(request)
        seeds = [request.seed + index for index in range(request.batch_size)]
        return GenerationResult([Image.new("RGB", (8, 8))] * request.batch_size, seeds, [], [f"Seed: {s}" for s in seeds],
                                request)


def test_seeds_continue_across_batches_and_a_random_seed_is_chosen_once():
    generate = FakeGenerate()
    batches = run_batches(generate, GenerationRequest(prompt="p", seed=-1, batch_size=2), 3, lambda *a: None,
                          CancelToken(), None)
    seeds = [seed for _, seed, _ in batches.images()]
    assert len(seeds) == 6 and seeds == list(range(seeds[0], seeds[0] + 6)) and not batches.interrupted


def test_stop_keeps_the_finished_batches():
    batches = run_batches(FakeGenerate(stop_at=1), GenerationRequest(prompt="p", seed=7, batch_size=2), 3,
                          lambda *a: None, CancelToken(), None)
    assert batches.interrupted and [seed for _, seed, _ in batches.images()] == [7, 8]


@pytest.mark.parametrize("count, words", [(0, "between 1 and 16"), (2.5, "whole number"), ("2", "must be a number"),
                                          (17, "between 1 and 16")])
def test_a_bad_batch_count_is_refused_by_name(count, words):
    with pytest.raises(RequestError, match="batch_count") as refused:
        check_batch_count(GenerationRequest(prompt="p"), count, Limits())
    assert words in str(refused.value)


def test_the_budget_covers_every_batch():
    request = GenerationRequest(prompt="p", width=1024, height=1024, batch_size=4)
    check_batch_count(request, 2, Limits(max_job_megapixels=16.0, max_job_work=1e9))  # 8 MP: allowed
    with pytest.raises(RequestError, match="megapixels"):
        check_batch_count(replace(request, batch_size=8), 3, Limits(max_job_megapixels=16.0, max_job_work=1e9))
