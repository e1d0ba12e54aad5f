"""Driving Debian Chromium (Playwright) against the shared app: the flags, timeouts and small DOM helpers."""

from __future__ import annotations

import io
import os
import shutil
import urllib.request
from pathlib import Path

from PIL import Image

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("STUDIO_SCREENSHOTS", Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"))
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]
TIMEOUT_MS = 120_000


def set_number(page, elem_id: str, value) -> None:
    box = page.locator(f"#{elem_id} input[type=number]").first
    box.fill(str(value))
    box.press("Enter")


def image_src(page, selector: str) -> str:
    return page.locator(f"{selector} img").first.get_attribute("src") or ""


def absolute(app_url: str, src: str) -> str:
    return src if src.startswith("http") else app_url.rstrip("/") + "/" + src.lstrip("/")


def fetch(app_url: str, src: str) -> bytes:
    with urllib.request.urlopen(absolute(app_url, src), timeout=30) as response:
        return response.read()


def download(app_url: str, src: str) -> Image.Image:
    return Image.open(io.BytesIO(fetch(app_url, src)))
