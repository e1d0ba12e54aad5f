"""Where the engine runs: in this process (LocalBackend), or on Ray Serve replicas. Knows no web framework."""

from serving.backend import Backend, ServerBusy
from serving.local import LocalBackend

__all__ = ["Backend", "LocalBackend", "ServerBusy"]
