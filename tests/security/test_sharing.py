"""A shared link brings strangers: fair turns, given-up jobs stopped, private results, the operator's own buttons."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from tests.security.conftest import GUEST, GUEST_PASSWORD, PASSWORD, STRICT_MAX_SIDE, USER
from tests.security.helpers import (
    HTTP_TIMEOUT_S,
    assert_still_generates,
    call_event,
    component_event,
    error_text,
    generate_body,
    positional_body,
    upload,
    visitor,
    wait_until,
    wait_until_drained,
)

pytestmark = pytest.mark.server


def _job(control_path, **changes) -> dict:
    return {**dict(prompt="x", image=handle_file(str(control_path)), module="none", condition="canny", steps=2,
                   width=64, height=64, seed=1), **changes}


def test_one_visitor_holds_at_most_two_jobs_and_others_still_get_theirs(strict, control_path):
    """Before: twenty fire-and-forget calls from one visitor took 1.3 s to submit, 16 were accepted and everyone else
    got "Queue is full" until all 16 had run. Now a visitor (its address here, as a proxy forwards it) holds at most two
    waiting or running jobs; the third gets a sentence, and another visitor's job runs meanwhile."""
    greedy, patient = visitor(strict.url, "192.0.2.51"), visitor(strict.url, "192.0.2.52")
    long_job = dict(steps=150, width=STRICT_MAX_SIDE, height=STRICT_MAX_SIDE, batch_size=4)  # runs to the time limit
    # three at once: whichever reaches the queue third is refused, so the test does not depend on arrival order
    jobs = [greedy.submit(**_job(control_path, seed=seed, **long_job), api_name="/generate") for seed in (1, 2, 3)]
    outcomes = []
    for job in jobs:
        try:
            job.result(timeout=120)
            outcomes.append("done")
        except Exception as error:  # the refusal, or the time limit of the two that ran
            outcomes.append(error_text(error))
    refused = [outcome for outcome in outcomes if "already have 2 jobs" in outcome]
    assert len(refused) == 1, outcomes
    images, _, infotext = patient.predict(**_job(control_path, seed=4), api_name="/generate")
    assert Image.open(images[0]).size == (64, 64) and "Seed: 4" in infotext
    wait_until_drained(strict.url)


def test_jobs_submitted_and_never_read_are_given_up(served, control_path):
    """Before: a `/call` whose result stream was never opened ran to the end (hours at the limits) with nobody
    listening. Now a job whose messages go unread for 5 s is stopped (on a server with the default 900 s time
    limit): two 150-step jobs posted and abandoned save nothing, and the next visitor's job, queued behind them, runs."""
    image = upload(served.url, control_path)
    for seed in (4101, 4102):
        body = generate_body(served.url, image, steps="150", seed=str(seed), width="128", height="128")
        posted = httpx.post(f"{served.url}gradio_api/call/generate", content=body, timeout=HTTP_TIMEOUT_S,
                            headers={"content-type": "application/json", "X-Forwarded-For": f"192.0.2.{seed % 100}"})
        assert posted.status_code == 200
    assert_still_generates(visitor(served.url, "192.0.2.60"), _job(control_path, seed=5))  # queued behind them
    saved = [path.name for path in served.outputs.rglob("*.png")]
    assert not any(name.endswith(("-4101.png", "-4102.png")) for name in saved), saved


def test_a_dropped_job_stops_its_work_before_the_next_job_starts(strict, control_path, tmp_path):
    """Before: gradio frees a caller's slot as soon as the caller disconnects, while the job's worker thread still ran
    its map work: three abandoned jobs peaked at 9.1 GB together, and "one job at a time" was not true. Now a dropped
    /compare (twelve 2048-pixel maps) ends before the next job starts: the log's `job started` / `job ended` alternate."""
    big = tmp_path / "big.png"
    Image.new("RGB", (1024, 1024), "white").save(big)
    image = upload(strict.url, big)
    body = positional_body(strict.url, "compare", prompt='"x"', image=json.dumps(image),
                           modules=json.dumps(["canny"] * 12), processor_res="2048", steps="150", seed="1", width="64",
                           height="64")
    log_start = len(strict.log())
    posted = httpx.post(f"{strict.url}gradio_api/call/compare", content=body, timeout=HTTP_TIMEOUT_S,
                        headers={"content-type": "application/json", "X-Forwarded-For": "192.0.2.70"})
    with httpx.stream("GET", f"{strict.url}gradio_api/call/compare/{posted.json()['event_id']}",
                      timeout=HTTP_TIMEOUT_S) as stream:  # read until the job runs, then hang up
        for line in stream.iter_lines():
            if "generating" in line or "heartbeat" in line:
                break
    wait_until(lambda: "job started: compare" in strict.log()[log_start:], "the dropped compare starting")
    assert_still_generates(visitor(strict.url, "192.0.2.71"), _job(control_path, seed=6))
    events = re.findall(r"job (started|ended)", strict.log()[log_start:])
    assert events[:4] == ["started", "ended", "started", "ended"], events
    assert all(a != b for a, b in zip(events, events[1:])), f"two jobs overlapped: {events}"


def test_results_are_served_under_unguessable_names(served, client, small_job):
    """Before: API results were `<folder>/NNNNNN-<stem>.png` with a counter and the folder in every response, so a
    second visitor fetched another's uploads and grid by counting. Now each file sits in a folder named by 128 random
    bits (and gradio serves it from a folder named by a 256-bit hash), so no name can be counted."""
    first, map_path, _ = client.predict(**{**small_job, "seed": 11}, api_name="/generate")
    second, _, _ = client.predict(**{**small_job, "seed": 12}, api_name="/generate")
    folders = [re.fullmatch(r"[A-Za-z0-9_-]{22,}", name.rsplit("/", 2)[-2]) for name in (first[0], second[0], map_path)]
    assert all(folders), (first, second, map_path)
    assert len({folder.group(0) for folder in folders}) == 3
    counted = first[0].rsplit("/", 2)[-2][:-6] + "000001/seed11.png"
    for guess in (counted, "000001-seed11.png", "000002-map.png", "seed11.png"):
        response = httpx.get(f"{served.url}gradio_api/file={guess}", timeout=HTTP_TIMEOUT_S)
        assert response.status_code in (403, 404)


def _cookies(url: str, user: str, password: str) -> dict:
    return dict(Client(url, auth=(user, password), verbose=False).cookies)


@pytest.mark.parametrize("elem_id", ["use-tiny", "unload"])
def test_only_the_operator_can_switch_or_unload_models(locked, elem_id):
    """Before: any visitor could call the Models tab's hidden events and switch the served model to the untrained one
    or unload the ControlNets, with no way back short of a restart. Now they answer a guest with a sentence and
    change nothing; the --admin login (the same server as test_exposure's login tests) can still use them."""
    url = locked.url
    guest, owner = _cookies(url, GUEST, GUEST_PASSWORD), _cookies(url, USER, PASSWORD)
    done = {"use-tiny": "switching the served model", "unload": "unloaded every ControlNet"}[elem_id]
    log_start = len(locked.log())
    succeeded, error = call_event(url, component_event(url, elem_id, guest), guest)
    assert not succeeded and "operator" in error
    assert done not in locked.log()[log_start:]
    succeeded, error = call_event(url, component_event(url, elem_id, owner), owner)
    assert succeeded, error
    wait_until(lambda: done in locked.log()[log_start:], f"the operator's {elem_id} taking effect")


def test_hub_models_outside_the_allow_list_and_hub_pickles_are_refused(served, strict, small_job, pickled_hub_repo, marker):
    """Before: `model=` could name any hub repo (a server with network downloads it), and a hub-style repo holding only
    a pickled .bin loaded through it ("Defaulting to unsafe serialization"). Now an unknown hub id is refused unless the
    operator passed --allow-hub-models, and even then a pickle-only repo is refused and its payload never runs."""
    with pytest.raises(Exception) as caught:
        Client(served.url, verbose=False).predict(**{**small_job, "model": pickled_hub_repo}, api_name="/generate")
    assert "not one of this server's ControlNets" in error_text(caught.value)
    opted_in = visitor(strict.url, "192.0.2.80")
    with pytest.raises(Exception) as caught:
        opted_in.predict(**{**small_job, "model": pickled_hub_repo}, api_name="/generate")
    assert "no .safetensors weights" in error_text(caught.value)
    assert not marker.exists(), "a pickle payload from the hub was executed"


def _cut_off_upload(url: str, size: int) -> None:
    """Send the start of a multipart upload that announces `size` bytes, then hang up."""
    host, port = url.split("//")[1].rstrip("/").split(":")
    boundary = "studio-cut-off"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode()
    with socket.create_connection((host, int(port)), timeout=HTTP_TIMEOUT_S) as connection:
        connection.sendall((f"POST /gradio_api/upload HTTP/1.1\r\nHost: {host}\r\nContent-Length: {size}\r\n"
                            f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n").encode() + head + b"\0" * (size // 3))
        time.sleep(0.5)  # let the server write what arrived; the socket then closes mid-body


def test_uploads_and_cut_off_uploads_are_removed_on_schedule(short_lived, control_path):
    """Before: uploads were never deleted (50 parallel 19 MB uploads added 906 MB in 3.4 s) and a cut-off upload left
    its partial file behind. Now gradio's delete_cache and the sweep remove both after --cache-hours (0.001 h = 3.6 s
    here), and the server still works."""
    uploads, url = short_lived.uploads, short_lived.url
    examples = {p for p in uploads.rglob("*") if p.is_file()}  # the page's own example images stay
    stored = upload(url, control_path)["path"]
    _cut_off_upload(url, 3_000_000)
    wait_until(lambda: any(p.name.startswith("tmp") for p in uploads.iterdir()), "the partial upload reaching the disk")
    leftovers = lambda: [p for p in uploads.rglob("*") if p.is_file() and p not in examples]  # noqa: E731
    wait_until(lambda: not leftovers(), "uploads being removed", timeout_s=60)
    assert not Path(stored).exists()
    assert_still_generates(Client(url, verbose=False), _job(control_path, seed=9))



@pytest.mark.parametrize("route", ["run", "api"])
def test_the_run_route_cannot_skip_the_queue(served, route):
    """Before: gradio's `/gradio_api/run/<name>` called a queued function directly (api_open defaults to true off
    Hugging Face Spaces), past the queue, its size, the per-visitor limit and the one-job-on-the-GPU limit. Now 404."""
    for name in ("generate", "compare", "preprocess", "png_info"):
        response = httpx.post(f"{served.url}gradio_api/{route}/{name}", json={"data": ["x"]}, timeout=HTTP_TIMEOUT_S)
        assert response.status_code == 404, (name, response.status_code)
