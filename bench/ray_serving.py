"""Ray Serve replicas on this machine: throughput of 6 jobs with 1 replica vs 2 replicas (1 CPU each; target >= 1.6x)
and the Ray round trip of one job against the in-process engine on the same work and thread count (target <= 1.10).

A private Ray on 127.0.0.1 with 3 logical CPUs, so a 1-replica and a 2-replica deployment stand side by side and the
rounds interleave; only one of them works at a time, so the 2 physical cores are never oversubscribed.
Run: python -m bench.ray_serving [--size 256 --steps 12 --jobs 6 --rounds 3]
"""

from __future__ import annotations

import argparse
import os
import threading

import numpy as np
import torch
from PIL import Image

from bench.common import interleaved, ratio_summary, summary, table, write
from pipelines.engine import Engine
from pipelines.requests import ControlUnit, GenerationRequest
from serving.ray_options import RayOptions, keep_ray_on_loopback


def request(size: int, steps: int, seed: int) -> GenerationRequest:
    rng = np.random.default_rng(0)
    control = Image.fromarray((rng.random((size, size, 3)) > 0.8).astype(np.uint8) * 255)
    return GenerationRequest(prompt="a house", negative_prompt="blurry", units=(ControlUnit(image=control, condition="canny"),),
                             steps=steps, sampler="Euler", seed=seed, width=size, height=size)


def concurrently(backend, jobs: list[GenerationRequest]) -> None:
    """Every job submitted at once, as visitors do; returns when all are done."""
    errors: list[BaseException] = []

    def run(job: GenerationRequest) -> None:
        try:
            backend.generate(job, save=False)
        except BaseException as error:
            errors.append(error)

    callers = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    if errors:
        raise errors[0]


def run(size: int, steps: int, jobs: int, rounds: int) -> dict:
    keep_ray_on_loopback()  # before Ray is imported
    import ray

    from serving.ray_backend import ROOT, RayBackend
    from serving.replica import NAMESPACE

    ray.init(num_cpus=3, include_dashboard=False, namespace=NAMESPACE, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    options = {"device": "cpu", "taesd": False}
    one = RayBackend(RayOptions("local", 1, 1, replica_cpus=1), "tiny", options, offline=True, app="bench-one")
    two = RayBackend(RayOptions("local", 2, 2, replica_cpus=1), "tiny", options, offline=True, app="bench-two")
    try:
        for backend in (one, two):
            backend.start().join(timeout=300)
            assert backend.state.phase == "ready", backend.state
        batch = [request(size, steps, seed) for seed in range(jobs)]
        throughput = interleaved({"one": lambda: concurrently(one, batch), "two": lambda: concurrently(two, batch)}, rounds)
        torch.set_num_threads(1)  # the same work as one replica does: one job, one thread
        engine = Engine.load("tiny", device="cpu", taesd=False)
        job = request(size, steps, 99)
        single = interleaved({"ray": lambda: one.generate(job, save=False),
                              "in_process": lambda: engine.generate(job, save=False)}, rounds * 3)
    finally:
        two.shutdown()  # removes both deployments and the private Ray
    return {
        "settings": {"size": size, "steps": steps, "jobs": jobs, "rounds": rounds, "model": "tiny", "replica_cpus": 1,
                     "host_cores": os.cpu_count()},
        "one_replica_s": summary(throughput["one"]), "two_replicas_s": summary(throughput["two"]),
        "throughput_ratio": ratio_summary(throughput["one"], throughput["two"]),
        "ray_job_s": summary(single["ray"]), "in_process_job_s": summary(single["in_process"]),
        "round_trip_ratio": ratio_summary(single["ray"], single["in_process"]),
        "per_image_s": summary([seconds / jobs for seconds in throughput["two"]]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    result = run(args.size, args.steps, args.jobs, args.rounds)
    write("ray_serving", result)
    rows = [[name, result[key]["min"], result[key]["median"], result[key]["max"]]
            for name, key in (("6 jobs, 1 replica s", "one_replica_s"), ("6 jobs, 2 replicas s", "two_replicas_s"),
                              ("throughput 2 vs 1 (x)", "throughput_ratio"), ("one job via Ray s", "ray_job_s"),
                              ("one job in process s", "in_process_job_s"), ("round trip ratio", "round_trip_ratio"))]
    print(table(rows, ["what", "min", "median", "max"]))


if __name__ == "__main__":
    main()
