"""Two Ray nodes on this one machine (Ray's own test cluster: a head and a second node, one CPU each, all on
127.0.0.1), one replica placed on each: the app joins the cluster by address and both nodes serve jobs."""

from __future__ import annotations

import os
import threading
from collections import Counter

import pytest

from pipelines.limits import Limits
from tests.serving.helpers import ready_backend
from tests.serving.test_ray_backend import _request

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def cluster_backend():
    import ray
    from ray.cluster_utils import Cluster

    from serving.ray_backend import ROOT, RayBackend
    from serving.ray_options import RayOptions

    # both nodes on 127.0.0.1 (conftest keeps every test's Ray on loopback); Ray's own test cluster starts its nodes
    # without the `ray start` command, which refuses a second node in that mode
    saved_path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(ROOT)  # the nodes' workers import the studio's packages
    cluster = Cluster(initialize_head=True, connect=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes(timeout=60)
        options = {"device": "cpu", "taesd": False, "limits": Limits()}
        # a joined cluster keeps running: the backend's shutdown removes only our app
        with ready_backend(RayBackend(RayOptions(cluster.address, 2, 2, replica_cpus=1), "tiny", options,
                                      offline=True)) as backend:
            yield backend
    finally:
        ray.shutdown()
        cluster.shutdown()
        if saved_path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved_path


def test_one_replica_on_each_node_and_both_nodes_serve_jobs(cluster_backend):
    import ray

    nodes = {node["NodeID"] for node in ray.nodes() if node["Alive"]}
    assert len(nodes) == 2
    replicas = cluster_backend.replicas()
    assert {replica["node"] for replica in replicas} == nodes  # Serve placed one replica per one-CPU node
    assert [replica["state"] for replica in replicas] == ["RUNNING", "RUNNING"]

    results: dict[int, object] = {}
    callers = [threading.Thread(target=lambda seed=seed: results.__setitem__(seed, cluster_backend.generate(
        _request(seed), save=False))) for seed in (41, 42, 43, 44)]
    cluster_backend.served.clear()
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(timeout=120)
    assert {seed: result.seeds for seed, result in results.items()} == {seed: [seed] for seed in (41, 42, 43, 44)}
    served_on = [served.node_id for _, served in cluster_backend.served]
    assert len(served_on) == 4 and set(served_on) == nodes, served_on  # each job says which node ran it
    assert {replica["node"]: replica["jobs"] for replica in cluster_backend.replicas()} == Counter(served_on)  # Models tab
