"""The queue's concurrency ids, and fair sharing at its door: a few jobs per visitor, and unread jobs given up.

Gradio has no admission hook: `Queue.push` is the one place every route (`/queue/join`, `/call/{api}`) hands it a
new job, and its `max_size` only bounds the whole queue, so one visitor could take every place. `QueueGuard.attach`
therefore wraps that method on the app's own queue instance (nothing global is patched) to count the visitor's
waiting and running jobs first. Written by hand because no gradio setting or library does this.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

import gradio as gr

GPU = "gpu"  # every event that runs the engine: one at a time on the accelerator
PREPROCESS = "preprocess"  # /preprocess
MAP_PREVIEW = "map-preview"  # the Generate units' live map previews: at most one running and one waiting per unit
UNREAD_LIMIT = 10  # messages nobody fetched: 5 s of a job's half-second heartbeats with no one listening


def _loopback(host: str | None) -> bool:
    try:
        return host is None or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def visitor_key(username: str | None, host: str | None, session_hash: str | None) -> str:
    """Who a job belongs to: the login, else the client's address (as forwarded by a proxy on this machine),
    else, when every caller arrives from this machine itself, the browser or client session."""
    if username:
        return f"user:{username}"
    if not _loopback(host):
        return f"ip:{host}"
    return f"session:{session_hash}"


def _host(request: Any) -> str | None:
    client = getattr(request, "client", None)
    return getattr(client, "host", None)


class QueueGuard:
    """Refuses a visitor's job past `max_jobs` waiting or running in the same concurrency group; map previews get
    `preview_jobs` (a refused preview left a stale map under an "Error" badge: the user's newest choice was dropped)."""

    def __init__(self, max_jobs: int, preview_jobs: int = 0, groups: tuple[str, ...] = (GPU, PREPROCESS, MAP_PREVIEW)):
        self.limits = {group: max_jobs for group in groups}
        if preview_jobs:
            self.limits[MAP_PREVIEW] = max(max_jobs, preview_jobs) if max_jobs > 0 else 0
        self._queue: Any = None

    def attach(self, blocks: gr.Blocks) -> None:
        """Call after the last `blocks.queue(...)` (which makes a new queue)."""
        queue = blocks._queue
        original: Callable[..., Awaitable[tuple]] = queue.push

        async def push(body, request, username):
            refusal = self._refusal(queue, body, request, username)
            if refusal:
                # the "validator_error" form is the one whose sentence reaches gradio_client and the browser
                return False, [{"__type__": "validate", "is_valid": False, "message": refusal,
                                "parameter_name": "jobs"}], "validator_error"
            return await original(body, request, username)

        queue.push = push
        self._queue = queue

    def _refusal(self, queue, body, request, username) -> str | None:
        if body.fn_index is None:
            return None
        try:
            fn = queue.blocks.fns[body.fn_index]
        except (KeyError, IndexError, AttributeError):
            return None
        wanted, given = len(fn.inputs), len(body.data or [])
        if given != wanted:  # gradio would answer {"error": null} and log a traceback
            return (f"/{fn.api_name or 'this event'} takes {wanted} values in the order /gradio_api/info lists, got {given}; "
                    "send every parameter (gradio_client fills in the defaults).")
        group = fn.concurrency_id
        limit = self.limits.get(group, 0)
        if limit <= 0:
            return None
        key = visitor_key(username, _host(request), body.session_hash)
        # no await between this count and the original push's append, so two calls cannot both slip through
        held = sum(1 for event in list(queue.event_ids_to_events.values())
                   if event.concurrency_id == group and visitor_key(event.username, _host(event.request),
                                                                    event.session_hash) == key)
        if held >= limit:
            return (f"You already have {held} job{'s' if held > 1 else ''} waiting or running; wait for one to finish "
                    "(or stop it) before starting another.")
        return None

    def unread(self, session_hash: str | None) -> int:
        """Messages queued for a session that no one has fetched (a `/call` whose result stream was never opened)."""
        if self._queue is None or not session_hash:
            return 0
        pending = self._queue.pending_messages_per_session.get(session_hash)
        return pending.qsize() if pending is not None else 0

    def abandoned(self, request: gr.Request | None) -> bool:
        return self.unread(getattr(request, "session_hash", None)) > UNREAD_LIMIT


def engine_jobs(blocks: gr.Blocks) -> int:
    """The UI's and gradio API's engine jobs, waiting or running; the A1111 routes count them against --queue-size."""
    queue = getattr(blocks, "_queue", None)
    if queue is None:
        return 0
    return sum(1 for event in list(queue.event_ids_to_events.values()) if event.concurrency_id == GPU)
