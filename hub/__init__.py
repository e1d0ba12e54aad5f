"""The Hugging Face hub as this server sees it: reachable or not, decided in one place."""

from hub.reach import HubAccess

__all__ = ["HubAccess"]
