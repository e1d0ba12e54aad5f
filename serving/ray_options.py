"""The --ray flags as data, read without importing Ray (the app never imports it unless --ray is given)."""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from dataclasses import dataclass


def keep_ray_on_loopback() -> None:
    """Call before Ray is imported, for `--ray local`. On Linux Ray swaps a 127.0.0.1 node address for the machine's
    reachable one and listens on every interface; its single-machine mode (the one it runs on macOS and Windows, chosen
    by this variable when Ray is imported) keeps every port on 127.0.0.1 and takes no other node."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"


@dataclass(frozen=True)
class RayOptions:
    """What the --ray flags ask for."""

    address: str  # "local" (a private Ray on 127.0.0.1) or an existing cluster's address ("auto", "ray://head:10001")
    min_replicas: int = 1
    max_replicas: int = 1
    replica_cpus: int | None = None  # CPU replicas with this many cores (and torch threads) each; None: one GPU each
    queue_size: int = 16

    def deployment_options(self) -> dict:
        actor = {"num_cpus": self.replica_cpus, "num_gpus": 0} if self.replica_cpus else {"num_cpus": 1, "num_gpus": 1}
        options = {"ray_actor_options": actor, "max_ongoing_requests": 1, "max_queued_requests": self.queue_size}
        if self.min_replicas == self.max_replicas:
            return {**options, "num_replicas": self.min_replicas}
        return {**options, "autoscaling_config": {"min_replicas": self.min_replicas, "max_replicas": self.max_replicas,
                                                  "target_ongoing_requests": 1}}


def parse_replicas(text: str) -> tuple[int, int]:
    """`N` (fixed) or `MIN-MAX` (Serve autoscales on queued requests)."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text or "")
    if not match:
        raise ValueError(f"--replicas must be N or MIN-MAX (e.g. 2 or 1-4), got {text!r}")
    low = int(match.group(1))
    high = int(match.group(2) or low)
    if high < 1 or low > high:
        raise ValueError(f"--replicas {text!r}: need 1 <= MIN <= MAX")
    return low, high


def public_address_warning(address: str) -> str | None:
    """Ray's ports run code for anyone who reaches them with the cluster's token, or with none where authentication is
    off (CVE-2023-48022)."""
    if address in ("local", "auto"):
        return None
    host = re.sub(r"^[a-z]+://", "", address).rsplit(":", 1)[0].strip("[]")
    try:
        ip = ipaddress.ip_address(socket.gethostbyname(host))
    except (OSError, ValueError):
        return None
    if ip.is_private or ip.is_loopback or ip.is_link_local:
        return None
    return (f"WARNING: --ray {address} is a public address. Ray's ports run code for anyone who reaches them; keep the "
            "cluster on a private network (or behind a firewall) and point --ray at its private address.")
