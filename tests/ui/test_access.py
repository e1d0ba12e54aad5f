"""Who counts as the operator, and how visitors are told apart (the rules behind the shared-server tests)."""

from __future__ import annotations

from types import SimpleNamespace

from app import local_only
from ui.access import Access
from ui.concurrency import visitor_key


def test_local_only_means_nobody_else_can_arrive(monkeypatch):
    monkeypatch.delenv("GRADIO_ROOT_PATH", raising=False)
    assert local_only("127.0.0.1", share=False, has_auth=False) and local_only("::1", False, False)
    assert local_only("127.0.0.2", False, False)  # the whole loopback range
    assert not local_only("0.0.0.0", False, False) and not local_only("192.168.1.5", False, False)
    assert not local_only("127.0.0.1", share=True, has_auth=False)
    assert not local_only("127.0.0.1", share=False, has_auth=True)  # logins mean people arrive through a proxy
    monkeypatch.setenv("GRADIO_ROOT_PATH", "/studio")
    assert not local_only("127.0.0.1", False, False)


def test_only_named_admins_operate_a_shared_server():
    shared = Access(local_only=False, admins=frozenset({"owner"}))
    assert shared.is_operator(SimpleNamespace(username="owner"))
    assert not shared.is_operator(SimpleNamespace(username="guest"))
    assert not shared.is_operator(SimpleNamespace(username=None)) and not shared.is_operator(None)
    assert Access(local_only=True).is_operator(SimpleNamespace(username=None))


def test_visitors_are_a_login_else_an_address_else_a_session():
    assert visitor_key("alice", "203.0.113.9", "s1") == visitor_key("alice", "198.51.100.2", "s2") == "user:alice"
    assert visitor_key(None, "203.0.113.9", "s1") == visitor_key(None, "203.0.113.9", "s2")
    assert visitor_key(None, "127.0.0.1", "s1") != visitor_key(None, "127.0.0.1", "s2")
    assert visitor_key(None, None, "s1") == "session:s1"
