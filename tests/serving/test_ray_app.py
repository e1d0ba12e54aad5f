"""`python app.py --model tiny --ray local --replicas 2 --replica-cpus 1`: the same page and API, the same pixels as
the in-process engine, concurrent callers spread over both replicas, every Ray port on loopback, a vanished caller's
job stopped on its replica, and SIGTERM (what docker stop and systemd send) leaves no Ray process behind."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import signal
import subprocess
import threading
import time

import numpy as np
import psutil
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from pipelines.requests import ControlUnit, GenerationRequest
from tests.security.helpers import generate_body, start_and_vanish, upload
from tests.server import start_app
from tests.serving.test_ray_backend import OneThreadEngine, _map

pytestmark = [pytest.mark.ray, pytest.mark.server]
RAY_AS_INSTALLED = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1"}  # undo conftest's loopback switch: the app sets it itself
JOB = dict(prompt="a lighthouse", steps=3, width=64, height=64, seed=21, sampler="Euler")


def _ray_processes() -> list[str]:
    listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in listing.splitlines() if any(name in line for name in ("raylet", "gcs_server", "ray::"))]


@pytest.fixture(scope="module")
def ready_map(tmp_path_factory):
    path = tmp_path_factory.mktemp("ray-app") / "map.png"
    _map().save(path)
    return path


@pytest.fixture(scope="module")
def ray_app(tmp_path_factory):
    assert not _ray_processes(), "another Ray is running; these tests must see only their own"
    app = start_app(tmp_path_factory.mktemp("ray-app"), "--ray", "local", "--replicas", "2", "--replica-cpus", "1",
                    "--lazy-preprocessors", env=RAY_AS_INSTALLED)
    try:
        deadline = time.monotonic() + 180
        while "engine settled:" not in app.log() and time.monotonic() < deadline:  # bounded: the replicas load
            time.sleep(0.5)
        assert "engine settled: tiny ready on Ray Serve" in app.log(), app.log()[-3000:]
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="module")
def twin():
    return OneThreadEngine()


def _twin_pixels(twin: OneThreadEngine, **job) -> tuple[np.ndarray, str]:
    unit = ControlUnit(image=_map(), module="none", condition="canny", family="Other")  # what the studio records
    result = twin.generate(GenerationRequest(units=(unit,), **{**JOB, **job}), save=False)
    return np.asarray(result.images[0]), result.infotexts[0]


def _loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    return (getattr(address, "ipv4_mapped", None) or address).is_loopback  # ::ffff:127.0.0.1 is loopback too


def _served_replicas(log: str) -> list[str]:
    return re.findall(r"served by replica (\w+)", log)


def test_the_app_on_ray_replicas_serves_the_same_pixels(ray_app, ready_map, twin):
    images, _, infotext = Client(ray_app.url, verbose=False).predict(
        image=handle_file(str(ready_map)), module="none", condition="canny", **JOB, api_name="/generate")
    pixels, expected_infotext = _twin_pixels(twin)
    assert infotext == expected_infotext
    assert np.array_equal(np.asarray(Image.open(images[0]).convert("RGB")), pixels)


def _most_at_once(log: str) -> int:
    """The most jobs the studio ran side by side, from its `job started` / `job ended` lines."""
    running = most = 0
    for event in re.findall(r"job (started|ended):", log):
        running += 1 if event == "started" else -1
        most = max(most, running)
    return most


def test_four_concurrent_callers_each_get_their_twin_and_both_replicas_work_at_once(ray_app, ready_map, twin):
    log_before = len(ray_app.log())
    results: dict[int, object] = {}
    job = {**JOB, "steps": 20}  # long enough that four callers arriving together overlap

    def call(seed: int) -> None:
        results[seed] = Client(ray_app.url, verbose=False).predict(
            image=handle_file(str(ready_map)), module="none", condition="canny", **{**job, "seed": seed},
            api_name="/generate")

    callers = [threading.Thread(target=call, args=(seed,)) for seed in (51, 52, 53, 54)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(timeout=180)
    assert sorted(results) == [51, 52, 53, 54]
    for seed, (images, _, infotext) in results.items():
        pixels, expected_infotext = _twin_pixels(twin, **{**job, "seed": seed})
        assert infotext == expected_infotext
        assert np.array_equal(np.asarray(Image.open(images[0]).convert("RGB")), pixels), seed
    log = ray_app.log()[log_before:]
    served = _served_replicas(log)
    assert len(served) == 4 and len(set(served)) == 2, served
    assert _most_at_once(log) == 2, log  # the queue and the studio let both replicas work at the same time


def test_every_ray_port_the_app_opens_listens_on_loopback_only(ray_app):
    """Ray's ports run code for whoever reaches them: `--ray local` keeps them all on 127.0.0.1."""
    tree = [psutil.Process(ray_app.process.pid), *psutil.Process(ray_app.process.pid).children(recursive=True)]
    listening = []
    for process in tree:
        try:
            listening += [conn.laddr for conn in process.net_connections(kind="inet") if conn.status == psutil.CONN_LISTEN]
        except psutil.NoSuchProcess:
            continue
    assert len(listening) > 3  # gradio, the GCS, the raylet, the workers...
    exposed = [address for address in listening if not _loopback(address.ip)]
    assert not exposed, exposed


def test_a_vanished_caller_stops_its_job_on_the_replica(ray_app, ready_map):
    """A 150-step job whose caller disconnects is stopped on its replica: two jobs at once both finish (one would
    wait for the abandoned job if it still ran, which would then be saved), and nothing is saved for its seed."""
    seed = 616161
    data = json.loads(generate_body(ray_app.url, upload(ray_app.url, ready_map), steps="150", seed=str(seed)))["data"]
    assert start_and_vanish(ray_app.url, "generate", data), "the abandoned job never started"
    done: dict[int, object] = {}
    followers = [threading.Thread(target=lambda seed=seed: done.__setitem__(seed, Client(ray_app.url, verbose=False).predict(
        image=handle_file(str(ready_map)), module="none", condition="canny", **{**JOB, "seed": seed},
        api_name="/generate"))) for seed in (61, 62)]
    for follower in followers:
        follower.start()
    for follower in followers:
        follower.join(timeout=180)
    assert sorted(done) == [61, 62]
    assert not list(ray_app.outputs.glob(f"*/*-{seed}.png")), "the abandoned job ran to the end"
    assert list(ray_app.outputs.glob("*/*-61.png")), "finished jobs are saved here (so the check above means something)"


def _assert_no_ray_left() -> None:
    deadline = time.monotonic() + 30
    while _ray_processes() and time.monotonic() < deadline:  # Ray's processes exit a moment after the app
        time.sleep(0.5)
    assert not _ray_processes(), _ray_processes()


def test_sigterm_leaves_no_ray_behind(ray_app):
    """`docker stop` signals the app alone. Stops the shared app: the module's other tests come before it."""
    ray_app.stop()
    assert ray_app.process.returncode == 0, ray_app.log()[-2000:]
    _assert_no_ray_left()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "systemd"])
def test_a_signal_to_the_whole_process_group_leaves_no_ray_behind(tmp_path, stop):
    """Ctrl+C in a terminal (SIGINT) and systemd (SIGTERM) signal every process of the app at once, Ray's own among
    them: the app still exits by itself, promptly, and takes every Ray process with it."""
    assert not _ray_processes()
    app = start_app(tmp_path, "--ray", "local", "--replicas", "1", "--replica-cpus", "1", "--lazy-preprocessors",
                    own_group=True)
    try:
        deadline = time.monotonic() + 180
        while "engine settled:" not in app.log() and time.monotonic() < deadline:  # bounded: the replica loads
            time.sleep(0.5)
        assert "engine settled: tiny ready on Ray Serve" in app.log(), app.log()[-3000:]
        os.killpg(app.process.pid, stop)
        app.process.wait(timeout=60)  # it once waited forever on Serve after its raylet had died of the same signal
    finally:
        app.stop()
    assert app.process.returncode == 0, app.log()[-2000:]
    _assert_no_ray_left()
