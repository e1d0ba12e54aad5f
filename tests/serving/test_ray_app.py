"""`python app.py --model tiny --ray local --replicas 2 --replica-cpus 1`: the same page and API, the same pixels as
the in-process engine, and SIGTERM (what docker stop and systemd send) leaves no Ray process behind."""

from __future__ import annotations

import subprocess
import time

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from pipelines.requests import ControlUnit, GenerationRequest
from tests.server import start_app
from tests.serving.test_ray_backend import OneThreadEngine, _map

pytestmark = [pytest.mark.ray, pytest.mark.server]
JOB = dict(prompt="a lighthouse", steps=3, width=64, height=64, seed=21, sampler="Euler")


def _ray_processes() -> list[str]:
    listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in listing.splitlines() if any(name in line for name in ("raylet", "gcs_server", "ray::"))]


def test_the_app_on_ray_replicas_serves_the_same_pixels_and_leaves_no_ray_behind(tmp_path):
    assert not _ray_processes(), "another Ray is running; this test must see only its own"
    ready_map = tmp_path / "map.png"
    _map().save(ready_map)
    app = start_app(tmp_path, "--ray", "local", "--replicas", "2", "--replica-cpus", "1", "--lazy-preprocessors")
    try:
        deadline = time.monotonic() + 180
        while "engine settled:" not in app.log() and time.monotonic() < deadline:  # bounded: the replicas load
            time.sleep(0.5)
        assert "engine settled: tiny ready on Ray Serve" in app.log(), app.log()[-3000:]
        assert _ray_processes(), "--ray local should have started a private Ray"
        images, _, infotext = Client(app.url, verbose=False).predict(
            image=handle_file(str(ready_map)), module="none", condition="canny", **JOB, api_name="/generate")
    finally:
        app.stop()
    unit = ControlUnit(image=_map(), module="none", condition="canny", family="Other")  # what the studio records
    twin = OneThreadEngine().generate(GenerationRequest(units=(unit,), **JOB),
                                      save=False)
    assert infotext == twin.infotexts[0]
    assert np.array_equal(np.asarray(Image.open(images[0]).convert("RGB")), np.asarray(twin.images[0]))
    assert app.process.returncode == 0, app.log()[-2000:]
    deadline = time.monotonic() + 30
    while _ray_processes() and time.monotonic() < deadline:  # Ray's processes exit a moment after the app
        time.sleep(0.5)
    assert not _ray_processes(), _ray_processes()
