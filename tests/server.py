"""Start the real app (app.py) on 127.0.0.1 in a subprocess for API, browser and hardening tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 120.0


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
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)


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


def start_app(tmp: Path, *extra: str, env: dict[str, str] | None = None, model: str | None = "tiny") -> RunningApp:
    """Launch `python app.py --model tiny --offline` (plus extra flags) and wait for the page."""
    port = free_port()
    log_path = tmp / f"app-{port}.log"
    outputs = tmp / f"outputs-{port}"
    command = [sys.executable, str(ROOT / "app.py"), *(["--model", model] if model else []), "--offline",
               "--port", str(port), "--outputs", str(outputs), *extra]
    environment = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
    handle = open(log_path, "w")
    process = subprocess.Popen(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, env=environment)
    url = f"http://127.0.0.1:{port}/"
    try:
        waited = wait_for_http(url, process)
    except Exception:
        process.kill()
        raise RuntimeError(f"app did not start:\n{log_path.read_text(errors='replace')[-4000:]}") from None
    return RunningApp(url, process, log_path, waited, outputs)
