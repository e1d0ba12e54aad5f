"""Who is asking: the visitor a job belongs to, and whether they are the server's operator."""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr

from ui.errors import sentence


def visitor_of(request: gr.Request | None) -> str:
    """A logged-in user is one visitor across tabs and scripts; without a login, each browser or client session is."""
    if request is None:
        return "anonymous"
    username = getattr(request, "username", None)
    if username:
        return f"user:{username}"
    return f"session:{getattr(request, 'session_hash', None) or 'none'}"


@dataclass(frozen=True)
class Access:
    """Operator actions (switch the model, unload) belong to the operator, not to whoever holds a shared link."""

    local_only: bool = True  # loopback, no share link, no login, no proxy: only this machine's user can reach it
    admins: frozenset[str] = field(default_factory=frozenset)
    max_jobs_per_visitor: int = 2

    def is_operator(self, request: gr.Request | None) -> bool:
        username = getattr(request, "username", None)
        return self.local_only or (username is not None and username in self.admins)

    def require_operator(self, request: gr.Request | None) -> None:
        if not self.is_operator(request):
            raise sentence("Only the server's operator can switch or unload models; ask whoever runs this server.")
