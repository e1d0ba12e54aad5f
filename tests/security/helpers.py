"""Crafted hostile files and small HTTP helpers shared by the hardening tests."""

from __future__ import annotations

import http.client
import json
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import psutil
from PIL import Image

HTTP_TIMEOUT_S = 60
QUEUE_SIZE = 8  # the hardened server's --queue-size
# The reference picture every format test encodes: left half black, right half white, a red 16x16 mark top-left.
REFERENCE_SIZE = (96, 64)


class Payload:
    """Unpickling this creates the marker file: proof that a checkpoint ran code."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def reference_pixels() -> np.ndarray:
    pixels = np.zeros((64, 96, 3), np.uint8)
    pixels[:, 48:] = 255
    pixels[:16, :16] = (255, 0, 0)
    return pixels


def reference_image() -> Image.Image:
    return Image.fromarray(reference_pixels())


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A valid PNG header claiming width x height with a tiny (compressed) body: a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\x00" * (width * 3 + 1) * 4)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def assert_sentence(message: str) -> None:
    """A user-facing error: one readable sentence, never a Python traceback or a source location."""
    assert message and message.strip(), "empty error message"
    for leak in ("Traceback", 'File "', "site-packages", "Exception:"):
        assert leak not in message, f"error leaks internals: {message!r}"
    assert len(message) < 600, f"error is not one sentence: {message!r}"


def error_text(error: BaseException) -> str:
    """What gradio_client raised, checked to be a sentence."""
    text = str(error)
    assert_sentence(text)
    return text


def upload(url: str, path: Path) -> dict:
    """POST a file to the upload route; return the FileData a raw API call needs."""
    with open(path, "rb") as handle:
        response = httpx.post(url + "gradio_api/upload", files={"files": (path.name, handle)}, timeout=HTTP_TIMEOUT_S)
    response.raise_for_status()
    return {"path": response.json()[0], "meta": {"_type": "gradio.FileData"}, "orig_name": path.name}


def raw_call(url: str, api_name: str, body: str) -> tuple[str, object]:
    """Call a named endpoint with a raw JSON body (what any script can send, e.g. NaN, which JSON clients refuse).

    Returns (event, payload): event is "complete" or "error"; the body of every response is checked for tracebacks.
    """
    posted = httpx.post(f"{url}gradio_api/call/{api_name}", content=body, headers={"content-type": "application/json"},
                        timeout=HTTP_TIMEOUT_S)
    assert "Traceback" not in posted.text
    posted.raise_for_status()
    stream = httpx.get(f"{url}gradio_api/call/{api_name}/{posted.json()['event_id']}", timeout=HTTP_TIMEOUT_S)
    assert "Traceback" not in stream.text
    event, payload = "", None
    for line in stream.text.splitlines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event in ("complete", "error"):
            payload = json.loads(line.split(":", 1)[1])
    return event, payload


# The cheapest real job, as raw JSON tokens; every other parameter keeps the server's default.
_CHEAPEST = {"prompt": '"x"', "module": '"none"', "condition": '"canny"', "steps": "2", "seed": "1", "width": "64",
             "height": "64"}


def endpoint_parameters(url: str, api_name: str = "generate") -> list[dict]:
    """An endpoint's parameters in the order a positional call must send them, as the server itself lists them."""
    info = httpx.get(f"{url}gradio_api/info", timeout=HTTP_TIMEOUT_S).json()
    return info["named_endpoints"][f"/{api_name}"]["parameters"]


def positional_body(url: str, api_name: str, **raw: str) -> str:
    """A raw JSON body for a positional call: the server's defaults, with `raw` JSON tokens in place (so values a
    JSON client refuses, NaN or Infinity, can be sent)."""
    row = {p["parameter_name"]: json.dumps(p["parameter_default"]) for p in endpoint_parameters(url, api_name)}
    assert set(raw) <= set(row), f"/{api_name} has no parameter {set(raw) - set(row)}"
    row.update(raw)
    return '{"data": [' + ", ".join(row.values()) + "]}"


def generate_body(url: str, image: dict, **raw: str) -> str:
    """/generate's positional row for the cheapest job, with `raw` in place."""
    return positional_body(url, "generate", **{**_CHEAPEST, "image": json.dumps(image), **raw})


def start_and_vanish(url: str, api_name: str, data: list, timeout_s: float = 60.0) -> bool:
    """Join the queue as a raw client, read the event stream until the job runs, then close the connection (a closed
    tab, a dropped network). Returns whether the job was seen running (gradio's heartbeats keep the stream alive, so
    the wait is bounded here)."""
    config = httpx.get(url + "config", timeout=HTTP_TIMEOUT_S).json()
    fn_index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == api_name)
    session = uuid.uuid4().hex
    joined = httpx.post(url + "gradio_api/queue/join", timeout=HTTP_TIMEOUT_S,
                        json={"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None,
                              "trigger_id": None})
    joined.raise_for_status()
    running, deadline = False, time.monotonic() + timeout_s
    with httpx.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session},
                      timeout=HTTP_TIMEOUT_S) as stream:
        for line in stream.iter_lines():
            running = "process_generating" in line
            if running or time.monotonic() > deadline:
                break  # leaving the block closes the connection
    return running


def assert_still_generates(client, job: dict, **changes) -> None:
    """The server keeps serving: the job (with `changes`) still returns an image of its size."""
    job = {**job, **changes}
    images, _, _ = client.predict(**job, api_name="/generate")
    assert Image.open(images[0]).size == (job["width"], job["height"])


def raw_get(url: str, path: str) -> tuple[int, str]:
    """GET `path` byte for byte (HTTP clients normalise `../` away; an attacker's client does not)."""
    parsed = httpx.URL(url)
    connection = http.client.HTTPConnection(parsed.host, parsed.port, timeout=HTTP_TIMEOUT_S)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def queue_size(url: str) -> int:
    return int(httpx.get(url + "gradio_api/queue/status", timeout=HTTP_TIMEOUT_S).json()["queue_size"])


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    """Poll `condition` (bounded); fail the test naming `what` never happened, rather than carry on regardless."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"{what} did not happen within {timeout_s:.0f} s")
        time.sleep(0.05)


def wait_until_drained(url: str, timeout_s: float = 60.0) -> None:
    wait_until(lambda: queue_size(url) == 0, "the queue draining to empty", timeout_s)


def visitor(url: str, address: str, **kwargs):
    """A gradio_client as seen from `address`: uvicorn trusts X-Forwarded-For from 127.0.0.1, as from a proxy or
    the share relay on this machine (documentation addresses, 192.0.2.0/24: nothing is ever sent to them)."""
    from gradio_client import Client

    return Client(url, verbose=False, headers={"X-Forwarded-For": address}, **kwargs)


def component_event(url: str, elem_id: str, cookies: dict | None = None) -> int:
    """The id of the click event wired to the component with `elem_id` (what a hostile script would look up)."""
    config = httpx.get(url + "config", cookies=cookies, timeout=HTTP_TIMEOUT_S).json()
    component = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id)
    return next(d["id"] for d in config["dependencies"] if [component, "click"] in [list(t) for t in d["targets"]])


def call_event(url: str, fn_index: int, cookies: dict | None = None) -> tuple[bool, str]:
    """Run a (hidden) event by its id through the queue; returns (succeeded, error text)."""
    session = uuid.uuid4().hex
    joined = httpx.post(url + "gradio_api/queue/join", cookies=cookies, timeout=HTTP_TIMEOUT_S,
                        json={"data": [], "fn_index": fn_index, "session_hash": session, "event_data": None})
    joined.raise_for_status()
    with httpx.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session}, cookies=cookies,
                      timeout=HTTP_TIMEOUT_S) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    output = message.get("output") or {}
                    return bool(message.get("success")), str(output.get("error") or "")
    raise AssertionError("the event never completed")


class PeakMemory:
    """Samples a process's RSS every 50 ms on a thread (bounded by the `with` block) and keeps the peak."""

    def __init__(self, pid: int):
        self.pid, self.peak_mb, self._stop = pid, rss_mb(pid), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_mb = max(self.peak_mb, rss_mb(self.pid))

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
