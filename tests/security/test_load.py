"""Many callers at once, a full queue, long runs, cancelled and abandoned jobs: through the real server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.utils import Status
from PIL import Image

from pipelines.architectures import CONDITIONS
from pipelines.samplers import SAMPLER_NAMES
from tests.security.helpers import (
    QUEUE_SIZE,
    assert_still_generates,
    error_text,
    generate_body,
    rss_mb,
    start_and_vanish,
    upload,
    wait_until,
    wait_until_drained,
)

pytestmark = pytest.mark.server

JOB_TIMEOUT_S = 180


def _pixels(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _jobs(small_job: dict, control_path) -> list[tuple[str, dict]]:
    """Eight requests with distinct seeds, half /generate, half /compare."""
    jobs = []
    for index in range(8):
        seed = 1000 + 37 * index
        if index % 2:
            jobs.append(("/compare", dict(prompt=f"house {index}", image=handle_file(str(control_path)),
                                          modules=["invert", "canny"], seed=seed, steps=2, width=64, height=64)))
        else:
            jobs.append(("/generate", {**small_job, "prompt": f"tree {index}", "seed": seed,
                                       "sampler": ["Euler a", "DPM++ 2M Karras", "UniPC", "DDIM"][index // 2]}))
    return jobs


def _images(api_name: str, result) -> list[np.ndarray]:
    if api_name == "/generate":
        images, used_map, _ = result
        return [_pixels(path) for path in [*images, used_map]]
    items, _, grid = result
    return [_pixels(path) for path in [*items, grid]]


def test_eight_simultaneous_jobs_equal_their_sequential_twins(served, client, small_job, control_path):
    """Hazard: cross-talk between concurrent jobs (shared scheduler state, shared latents, mixed-up files).
    Eight jobs submitted at once across /generate and /compare each equal the same job run alone; no scheduler
    errors in the log; the queue drains to empty."""
    jobs = _jobs(small_job, control_path)
    alone = [_images(api, client.predict(**kwargs, api_name=api)) for api, kwargs in jobs]
    log_start = len(served.log())
    submitted = [client.submit(**kwargs, api_name=api) for api, kwargs in jobs]
    together = [_images(api, job.result(timeout=JOB_TIMEOUT_S)) for (api, _), job in zip(jobs, submitted)]
    for index, (first, second) in enumerate(zip(alone, together)):
        assert len(first) == len(second)
        for a, b in zip(first, second):
            assert np.array_equal(a, b), f"job {index} differs when run beside others"
    wait_until_drained(served.url)
    new_log = served.log()[log_start:]
    assert "Traceback" not in new_log and "ERROR" not in new_log


def test_a_full_queue_tells_the_extra_callers_it_is_full(served, client, small_job):
    """Hazard: unbounded queue (memory, endless waits). Past --queue-size the extra callers get "Queue is full",
    every accepted job still completes, and the queue drains."""
    extra = QUEUE_SIZE + 3
    callers = [Client(served.url, verbose=False) for _ in range(extra)]  # connected before the queue fills
    long_job = client.submit(**{**small_job, "steps": 150, "seed": 5}, api_name="/generate")
    wait_until(lambda: long_job.status().code == Status.PROCESSING, "the long job starting")
    waiting = [caller.submit(**{**small_job, "seed": 50 + index}, api_name="/generate") for index, caller in enumerate(callers)]
    outcomes = []
    for job in waiting:
        try:
            job.result(timeout=JOB_TIMEOUT_S)
            outcomes.append("done")
        except Exception as error:  # QueueError for the refused ones
            outcomes.append(error_text(error))
    assert Image.open(long_job.result(timeout=JOB_TIMEOUT_S)[0][0]).size == (64, 64)
    refused = [outcome for outcome in outcomes if outcome != "done"]
    assert refused, "no caller was refused although the queue was over-full"
    assert all("Queue is full" in outcome for outcome in refused), refused
    assert outcomes.count("done") >= QUEUE_SIZE - 1
    wait_until_drained(served.url)


def test_fifty_generations_switching_conditions_and_samplers_keep_memory_flat(served, client, small_job):
    """Hazard: memory leak across jobs (per-request schedulers, ControlNet switching, cached maps, returned files).
    After a warm-up that touches every condition and sampler, 50 more generations grow the server's RSS by <= 5 %."""
    combos = [(CONDITIONS[i % len(CONDITIONS)], SAMPLER_NAMES[i % len(SAMPLER_NAMES)]) for i in range(50)]
    warm_up = combos[:len(SAMPLER_NAMES)]  # every sampler once, conditions cycling beside them

    def run(pairs, seed0: int) -> None:
        for index, (condition, sampler) in enumerate(pairs):
            client.predict(**{**small_job, "condition": condition, "sampler": sampler, "seed": seed0 + index},
                           api_name="/generate")

    run(warm_up, 0)
    before = rss_mb(served.process.pid)
    run(combos, 100)
    after = rss_mb(served.process.pid)
    growth = (after - before) / before * 100
    print(f"\nRSS after warm-up {before:.0f} MB, after 50 generations {after:.0f} MB: {growth:+.2f} %")
    assert growth <= 5.0, f"resident memory grew {growth:.1f} % over 50 generations ({before:.0f} -> {after:.0f} MB)"


def _saved_with_seed(served, seed: int) -> list[Path]:
    """The PNGs the server wrote to its --outputs folder for this seed (a job that ran to its end writes one)."""
    return list(served.outputs.glob(f"*/*-{seed}.png"))


def test_cancel_mid_run_stops_within_a_step_and_the_next_job_runs(served, client, small_job):
    """Hazard: Stop / job.cancel() that frees the queue slot but leaves the accelerator busy to the end.
    A cancelled 150-step job never finishes (nothing is saved for its seed) and the next job starts at once."""
    seed = 424242
    job = client.submit(**{**small_job, "steps": 150, "seed": seed}, api_name="/generate")
    # the endpoint's first heartbeat comes half a second into the engine's run: the job is mid-run, not just queued
    wait_until(lambda: len(job.outputs()) > 0, "the long job's first heartbeat")
    job.cancel()
    cancelled_at = time.monotonic()
    assert_still_generates(client, small_job, seed=7)
    waited = time.monotonic() - cancelled_at
    assert not _saved_with_seed(served, seed), "the cancelled job ran to the end"
    print(f"\nnext job finished {waited:.1f} s after cancel")
    wait_until_drained(served.url)


def test_client_disconnect_mid_run_cancels_the_job(served, client, small_job, control_path):
    """Hazard: a caller that vanishes (tab closed, network drop) keeping the accelerator busy for nobody.
    Closing the event stream mid-run cancels the job; nothing is saved for it; the next job runs."""
    seed = 515151
    data = json.loads(generate_body(served.url, upload(served.url, control_path), steps="150", seed=str(seed)))["data"]
    running = start_and_vanish(served.url, "generate", data)
    assert running, "the abandoned job never started, so its cancellation proves nothing"
    assert_still_generates(client, small_job, seed=8)
    assert not _saved_with_seed(served, seed), "the abandoned job ran to the end"
    wait_until_drained(served.url)


@pytest.mark.parametrize("api_name", ["/generate", "/compare"])
def test_a_failing_job_does_not_block_the_queue(client, small_job, control_path, api_name):
    """Hazard: one failing job wedging the shared GPU queue. A job that fails mid-way is followed by one that works."""
    if api_name == "/generate":
        bad = {**small_job, "model": "nobody/missing-controlnet"}
    else:
        bad = dict(prompt="x", image=handle_file(str(control_path)), modules=["invert", "no-such-module"], steps=2,
                   width=64, height=64)
    with pytest.raises(Exception) as caught:
        client.predict(**bad, api_name=api_name)
    error_text(caught.value)
    assert_still_generates(client, small_job)
