"""The Hugging Face hub as this server sees it: reachable or not, decided in one place."""

from hub.reach import HubAccess, offline_by_environment

__all__ = ["HubAccess", "offline_by_environment"]
