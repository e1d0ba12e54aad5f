"""Jobs from several users at once serialise on the engine lock and give exactly the sequential pixels."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from tests.pipelines.helpers import make_request

THREADS, PER_THREAD = 4, 2


def test_four_threads_give_the_sequential_pixels(engine, control_image):
    requests = [make_request(control_image, seed=1000 + i, steps=3, sampler="Euler a") for i in range(THREADS * PER_THREAD)]
    sequential = [np.asarray(engine.generate(r).images[0]) for r in requests]
    assert len({a.tobytes() for a in sequential}) == len(requests)  # distinct seeds, distinct images

    barrier = threading.Barrier(THREADS)

    def worker(index: int) -> list[tuple[int, np.ndarray, int]]:
        barrier.wait(timeout=60)
        mine = requests[index * PER_THREAD:(index + 1) * PER_THREAD]
        return [(r.seed, np.asarray(engine.generate(r).images[0]), threading.get_ident()) for r in mine]

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = [item for future in [pool.submit(worker, i) for i in range(THREADS)] for item in future.result(timeout=600)]

    assert len({ident for _, _, ident in outcomes}) == THREADS
    assert [seed for seed, _, _ in outcomes] == [r.seed for r in requests]
    for expected, (_, pixels, _) in zip(sequential, outcomes):
        assert pixels.tobytes() == expected.tobytes()
    assert not engine._lock.locked()
