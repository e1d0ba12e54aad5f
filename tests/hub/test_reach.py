"""The one answer to "may weights be downloaded now?": a short probe, its failure remembered, --offline never probing."""

from __future__ import annotations

import http.server
import socket
import threading
from contextlib import closing

import pytest

from hub import HubAccess
from hub.reach import REMEMBER_FAILURE_S, REMEMBER_SUCCESS_S, answers
from tests.server import free_port


class CountingProbe:
    def __init__(self, answer: bool):
        self.answer, self.calls = answer, 0

    def __call__(self, url: str, timeout_s: float) -> bool:
        self.calls += 1
        return self.answer


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def online(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")  # the test session runs offline; these tests decide for themselves


def test_a_failed_probe_is_remembered_then_asked_again(online):
    probe, clock = CountingProbe(False), Clock()
    hub = HubAccess(endpoint="http://hub.invalid", probe=probe, clock=clock)
    assert [hub.local_only() for _ in range(5)] == [True] * 5
    assert probe.calls == 1
    clock.now += REMEMBER_FAILURE_S + 1
    probe.answer = True
    assert hub.local_only() is False and probe.calls == 2
    clock.now += REMEMBER_FAILURE_S + 1  # a success is trusted for longer than a failure
    assert hub.local_only() is False and probe.calls == 2
    clock.now += REMEMBER_SUCCESS_S
    hub.local_only()
    assert probe.calls == 3


@pytest.mark.parametrize("flag, environment", [(True, None), (False, "1"), (None, "true")])
def test_offline_by_flag_or_environment_never_probes(monkeypatch, flag, environment):
    if environment is None:
        monkeypatch.delenv("HF_HUB_OFFLINE")
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", environment)
    probe = CountingProbe(True)
    hub = HubAccess(flag, probe=probe)
    assert hub.local_only() is True and hub.probe_in_background() is None and probe.calls == 0
    assert hub.reason() == "this server is offline"


def test_callers_arriving_during_a_probe_share_it(online):
    release, calls = threading.Event(), []

    def slow_probe(url, timeout_s):
        calls.append(url)
        release.wait(10)
        return False

    hub = HubAccess(endpoint="http://hub.invalid", probe=slow_probe)
    threads = [threading.Thread(target=hub.local_only) for _ in range(4)]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(10)
    assert len(calls) == 1
    assert "http://hub.invalid" in hub.reason() and "not reachable" in hub.reason()


class _Hub(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_HEAD(self):
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("status, up", [(200, True), (404, True), (401, True), (503, False)])
def test_the_probe_reads_an_answer_below_500_as_a_hub(status, up):
    handler = type("Handler", (_Hub,), {"status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert answers(f"http://127.0.0.1:{server.server_port}", 2.0) is up
    finally:
        server.shutdown()
        server.server_close()


def test_the_probe_gives_up_on_a_refused_port_and_on_a_silent_one():
    assert answers(f"http://127.0.0.1:{free_port()}", 2.0) is False  # nothing listens there
    with closing(socket.socket()) as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        assert answers(f"http://127.0.0.1:{silent.getsockname()[1]}", 0.3) is False
