"""SDXL on a Ray Serve replica (a private Ray on 127.0.0.1, one CPU replica): the backend reports the replica's
architecture, and a two-condition matrix on the union model gives the in-process engine's pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from pipelines.engine import Engine
from pipelines.requests import ControlUnit, GenerationRequest
from tests.serving.helpers import ready_backend

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def xl_ray():
    from serving.ray_backend import RayBackend
    from serving.ray_options import RayOptions

    backend = RayBackend(RayOptions("local", 1, 1, replica_cpus=1), "tiny-sdxl", {"device": "cpu", "taesd": False},
                         offline=True)
    with ready_backend(backend):
        yield backend


def test_a_union_matrix_on_a_replica_equals_the_in_process_engine(xl_ray):
    picture = Image.new("RGB", (64, 64))
    picture.paste((255, 255, 255), (12, 8, 44, 52))
    cells = [GenerationRequest(prompt="a lighthouse", units=(ControlUnit(image=picture, condition=condition),), steps=2,
                               width=64, height=64, seed=9, sampler="Euler") for condition in ("canny", "depth")]
    assert xl_ray.state.architecture == "sdxl"  # read from the replica's model, for the page and the A1111 lists
    remote = xl_ray.matrix(cells, save=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the replica runs (--replica-cpus 1): CPU kernels sum in the same order
    try:
        local = Engine.load("tiny-sdxl", device="cpu", taesd=False).matrix(cells, save=False)
    finally:
        torch.set_num_threads(threads)
    for there, here in zip(remote, local):
        assert there.infotexts == here.infotexts and "Architecture: SDXL" in there.infotexts[0]
        assert np.array_equal(np.asarray(there.images[0]), np.asarray(here.images[0]))
    assert not np.array_equal(np.asarray(remote[0].images[0]), np.asarray(remote[1].images[0]))
