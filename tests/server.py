"""Start the real app (app.py) on 127.0.0.1 in a subprocess for API, browser and hardening tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 120.0
SETTLED_LINES = ("engine settled:", "preprocessors settled:")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningApp:
    url: str
    process: subprocess.Popen
    log_path: Path
    started_in_s: float
    outputs: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_all([self.process])

    def settled(self, timeout_s: float = START_TIMEOUT_S) -> RunningApp:
        """Wait (bounded) until the background loading that follows the first page is over: the engine and
        controlnet-aux log `settled` when done, so a test's timings do not include another server's warm-up."""
        deadline = time.monotonic() + timeout_s
        while not all(line in self.log() for line in SETTLED_LINES):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"app did not settle:\n{self.log()[-4000:]}")
            time.sleep(0.25)
        return self


def wait_for_http(url: str, process: subprocess.Popen, timeout_s: float = START_TIMEOUT_S) -> float:
    """Poll until HTTP 200 (bounded); return seconds waited. Fails if the process dies."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if process.poll() is not None:
            raise RuntimeError(f"app exited with code {process.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"{url} did not answer within {timeout_s:.0f} s")


@dataclass
class Launch:
    """An app.py process started but not yet known to serve; `ready()` waits for its page."""

    url: str
    process: subprocess.Popen
    log_path: Path
    outputs: Path
    started: float

    def ready(self) -> RunningApp:
        try:
            wait_for_http(self.url, self.process)
        except Exception:
            self.process.kill()
            raise RuntimeError(f"app did not start:\n{self.log_path.read_text(errors='replace')[-4000:]}") from None
        return RunningApp(self.url, self.process, self.log_path, time.monotonic() - self.started, self.outputs)


def launch_app(tmp: Path, *extra: str, env: dict[str, str] | None = None, model: str | None = "tiny",
               own_group: bool = False, offline: bool = True) -> Launch:
    """Start `python app.py --model tiny --offline` (plus extra flags) without waiting, so several can boot at once.
    `own_group`: in a process group of its own, as a terminal or a systemd unit runs it (signal it with os.killpg).
    `offline=False`: neither --offline nor the test session's HF_HUB_OFFLINE (point HF_ENDPOINT somewhere local)."""
    port = free_port()
    log_path = tmp / f"app-{port}.log"
    outputs = tmp / f"outputs-{port}"
    command = [sys.executable, str(ROOT / "app.py"), *(["--model", model] if model else []), *(["--offline"] if offline else []),
               "--port", str(port), "--outputs", str(outputs), *extra]
    environment = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
    if not offline:
        environment.pop("HF_HUB_OFFLINE", None)
    with open(log_path, "w") as handle:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, env=environment,
                                   start_new_session=own_group)
    return Launch(f"http://127.0.0.1:{port}/", process, log_path, outputs, time.monotonic())


def start_app(tmp: Path, *extra: str, env: dict[str, str] | None = None, model: str | None = "tiny",
              own_group: bool = False, offline: bool = True) -> RunningApp:
    """Launch the app and wait for its page."""
    return launch_app(tmp, *extra, env=env, model=model, own_group=own_group, offline=offline).ready()


def stop_all(processes: list[subprocess.Popen]) -> None:
    """Signal every app first, then wait: their shutdowns overlap instead of queueing."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


@contextmanager
def running_fleet(launches: dict[str, Launch]) -> Iterator[dict[str, RunningApp]]:
    """Servers launched together, each waited for (page, then background loading), all stopped together."""
    running: dict[str, RunningApp] = {}
    try:
        for name, launch in launches.items():
            running[name] = launch.ready()
        for app in running.values():
            app.settled()
        yield running
    finally:
        stop_all([launch.process for launch in launches.values()])
