"""The engine on Ray Serve replicas (a private Ray on 127.0.0.1, two CPU replicas of one core each): the same pixels
as the in-process engine, concurrent callers each get their own sequential twin on both replicas, steps stream back,
and Stop ends the replica's job within a step."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from pipelines.cancel import CancelToken
from pipelines.denoise import JobCancelled
from pipelines.engine import Engine
from pipelines.limits import Limits
from pipelines.requests import ControlUnit, GenerationRequest
from preprocessors import PreprocessorError
from tests.serving.helpers import ready_backend
from ui.models_tab import replica_rows

pytestmark = pytest.mark.ray


def _map() -> Image.Image:
    picture = Image.new("RGB", (64, 64))
    picture.paste((255, 255, 255), (12, 8, 44, 52))
    return picture


def _request(seed: int, steps: int = 3) -> GenerationRequest:
    return GenerationRequest(prompt="a lighthouse", units=(ControlUnit(image=_map(), condition="canny"),), steps=steps,
                             width=64, height=64, seed=seed, sampler="Euler")


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


@pytest.fixture(scope="module")
def ray_backend():
    from serving.ray_backend import RayBackend
    from serving.ray_options import RayOptions

    options = {"device": "cpu", "taesd": False, "limits": Limits(max_map_aspect=4.0)}  # a server's own, tighter limit
    with ready_backend(RayBackend(RayOptions("local", 2, 2, replica_cpus=1), "tiny", options, offline=True)) as backend:
        yield backend


class OneThreadEngine:
    """The in-process engine on one torch thread, as each replica runs (`--replica-cpus 1`): CPU kernels sum in
    another order with another thread count, which moves a few pixels by 1/255."""

    def __init__(self) -> None:
        self.engine = Engine.load("tiny", device="cpu", taesd=False)

    def generate(self, request: GenerationRequest, **kwargs):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self.engine.generate(request, **kwargs)
        finally:
            torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def local_engine():
    return OneThreadEngine()


def test_a_replica_makes_the_same_pixels_and_streams_its_steps(ray_backend, local_engine):
    steps = []
    remote = ray_backend.generate(_request(3), on_step=steps.append, save=False)
    local = local_engine.generate(_request(3), save=False)
    assert [update.step for update in steps] == [1, 2, 3]
    assert remote.infotexts == local.infotexts
    assert np.array_equal(_pixels(remote.images[0]), _pixels(local.images[0]))


def test_inpaint_and_hires_fix_on_a_replica_make_the_in_process_pixels(ray_backend, local_engine):
    from dataclasses import replace

    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 40))
    jobs = [replace(_request(21), init_image=_map().rotate(90), mask=mask, denoising_strength=0.7),
            replace(_request(22), enable_hr=True, hr_scale=1.5, denoising_strength=0.5)]
    for job in jobs:
        remote, local = ray_backend.generate(job, save=False), local_engine.generate(job, save=False)
        assert remote.infotexts == local.infotexts
        assert np.array_equal(_pixels(remote.images[0]), _pixels(local.images[0]))
    assert remote.images[0].size == (96, 96)


def test_four_concurrent_callers_each_get_their_sequential_twin_on_both_replicas(ray_backend, local_engine):
    results: dict[int, object] = {}
    callers = [threading.Thread(target=lambda seed=seed: results.__setitem__(seed, ray_backend.generate(_request(seed), save=False)))
               for seed in (11, 12, 13, 14)]
    ray_backend.served.clear()
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(timeout=120)
    for seed, result in results.items():
        twin = local_engine.generate(_request(seed), save=False)
        assert result.seeds == [seed] and np.array_equal(_pixels(result.images[0]), _pixels(twin.images[0])), seed
    assert len(results) == 4
    assert len({served.replica for _, served in ray_backend.served}) == 2  # both replicas took jobs
    rows = replica_rows(ray_backend.status())  # the Models tab's table: each replica, its state and its jobs
    assert [row[1] for row in rows] == ["RUNNING", "RUNNING"] and sorted(row[4] for row in rows) in ([1, 3], [2, 2])


def test_stop_ends_the_replicas_job_within_a_step_and_the_next_job_starts_at_once(ray_backend):
    cancel, steps, outcome = CancelToken(), [], {}

    def run():
        try:
            ray_backend.generate(_request(5, steps=150), on_step=steps.append, cancel=cancel, save=False)
        except JobCancelled as error:
            outcome["stopped"] = error

    job = threading.Thread(target=run)
    job.start()
    deadline = time.monotonic() + 60
    while not steps and time.monotonic() < deadline:  # bounded: wait for the first streamed step
        time.sleep(0.05)
    assert steps, "no step came back from the replica"
    cancel.cancel()
    stopped_at = time.monotonic()
    job.join(timeout=30)
    assert "stopped" in outcome and time.monotonic() - stopped_at < 5
    assert len(steps) < 150
    started = time.monotonic()
    assert ray_backend.generate(_request(6, steps=1), save=False).seeds == [6]
    assert time.monotonic() - started < 10


def test_maps_on_a_replica_obey_the_servers_limits_and_its_sentence_arrives_as_itself(ray_backend):
    assert ray_backend.preprocess("canny", _map(), processor_res=64).size == (64, 64)
    with pytest.raises(PreprocessorError) as refused:
        ray_backend.preprocess("canny", Image.new("RGB", (400, 50)), processor_res=64)
    assert str(refused.value).startswith("The control image is 400x50 pixels, more than 4:1")  # no Ray traceback


def _wait_for(condition, what: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # bounded
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_a_replica_killed_mid_job_costs_only_that_job_and_serve_replaces_it(ray_backend, local_engine):
    """Last in this module: it kills one of the shared replicas. The killed job runs once more on the other replica,
    the other replica's own job completes untouched, and after Serve starts a new replica both take jobs again."""
    victim_steps, outcome = [], {}
    ray_backend.served.clear()
    victim = threading.Thread(target=lambda: outcome.__setitem__("victim", ray_backend.generate(
        _request(31, steps=150), on_step=victim_steps.append, save=False)))
    victim.start()
    _wait_for(lambda: len(victim_steps) >= 2, "the victim job's steps")
    killed = ray_backend.served[-1][1]  # the only job so far: its replica's process
    bystander = threading.Thread(target=lambda: outcome.__setitem__("bystander", ray_backend.generate(
        _request(32, steps=40), save=False)))
    bystander.start()
    _wait_for(lambda: len(ray_backend.served) == 2, "the second job to reach the other replica")
    assert ray_backend.served[-1][1].pid != killed.pid
    os.kill(killed.pid, signal.SIGKILL)
    victim.join(timeout=180)
    bystander.join(timeout=180)

    assert np.array_equal(_pixels(outcome["bystander"].images[0]),
                          _pixels(local_engine.generate(_request(32, steps=40), save=False).images[0]))
    retried = [served for kind, served in ray_backend.served][2:]
    assert retried and retried[0].pid != killed.pid  # the victim's job ran again, on the surviving replica
    assert np.array_equal(_pixels(outcome["victim"].images[0]),
                          _pixels(local_engine.generate(_request(31, steps=150), save=False).images[0]))

    def replaced() -> bool:
        replicas = ray_backend.replicas()
        return [item["state"] for item in replicas] == ["RUNNING", "RUNNING"] and killed.pid not in {
            item["pid"] for item in replicas}

    _wait_for(replaced, "Serve to replace the killed replica", timeout_s=180)
    ray_backend.served.clear()
    after = [threading.Thread(target=lambda seed=seed: outcome.__setitem__(seed, ray_backend.generate(
        _request(seed), save=False))) for seed in (33, 34)]
    for caller in after:
        caller.start()
    for caller in after:
        caller.join(timeout=120)
    assert outcome[33].seeds == [33] and outcome[34].seeds == [34]
    assert len({served.pid for _, served in ray_backend.served}) == 2  # the new replica took one of them
