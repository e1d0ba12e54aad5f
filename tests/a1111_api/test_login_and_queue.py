"""With --auth every A1111 route wants the same login (HTTP basic, what webuiapi's username/password send); the
routes share --queue-size with the UI: past it, HTTP 503 with a sentence."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.a1111_api.conftest import PASSWORD, USER

pytestmark = pytest.mark.server
ROUTES = [("get", "sdapi/v1/samplers"), ("get", "controlnet/model_list"), ("get", "sdapi/v1/progress"),
          ("post", "sdapi/v1/txt2img"), ("post", "controlnet/detect"), ("post", "sdapi/v1/interrupt")]


def _client(app, password: str | None = PASSWORD):
    import webuiapi

    host, port = app.url.removeprefix("http://").rstrip("/").split(":")
    return webuiapi.WebUIApi(host=host, port=int(port), username=USER if password else None, password=password, steps=2)


@pytest.mark.parametrize("method, route", ROUTES)
def test_every_route_wants_the_login(locked_api, method, route):
    anonymous = httpx.request(method.upper(), locked_api.url + route, json={}, timeout=30)
    wrong = httpx.request(method.upper(), locked_api.url + route, json={}, auth=(USER, "wrong"), timeout=30)
    for response in (anonymous, wrong):
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Basic"
        assert "login" in response.json()["detail"]


def test_webuiapi_with_the_login_works_and_without_it_gets_401(locked_api):
    assert "Euler a" in {sampler["name"] for sampler in _client(locked_api).get_samplers()}
    with pytest.raises(RuntimeError) as refused:
        _client(locked_api, password=None).txt2img(prompt="x", width=64, height=64)
    assert refused.value.args[0] == 401


def test_past_the_queue_size_a_job_gets_503_and_the_first_is_untouched(locked_api):
    client, outcome = _client(locked_api), {}
    first = threading.Thread(target=lambda: outcome.__setitem__("first", client.txt2img(
        prompt="long", seed=3, width=64, height=64, steps=150)))
    first.start()
    deadline = time.monotonic() + 60
    while client.get_progress()["state"]["sampling_step"] == 0 and time.monotonic() < deadline:  # bounded
        time.sleep(0.1)
    busy = httpx.post(locked_api.url + "sdapi/v1/txt2img", auth=(USER, PASSWORD), timeout=30,
                      json={"prompt": "x", "width": 64, "height": 64, "steps": 2})
    assert busy.status_code == 503 and "queue is full" in busy.json()["detail"]
    client.interrupt()
    first.join(timeout=30)
    assert outcome["first"].info["interrupted"] is True
