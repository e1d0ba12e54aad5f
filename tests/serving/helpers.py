"""What the Ray tests share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def ready_backend(backend) -> Iterator:
    """A RayBackend started and waited for (bounded), and shut down whatever the test does."""
    try:
        backend.start().join(timeout=180)
        assert backend.state.phase == "ready", backend.state
        yield backend
    finally:
        backend.shutdown()
