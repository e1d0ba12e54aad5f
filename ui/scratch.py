"""A private folder for files the server hands out (API images, matrix downloads), pruned so a long-running shared
server never fills its disk; gradio serves from here and copies top-level outputs into its own cache."""

from __future__ import annotations

import atexit
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path

import gradio as gr
from PIL import Image

from pipelines.outputs import png_info


def slug(name: str) -> str:
    """A file name made of safe characters (column labels hold spaces, brackets and commas)."""
    return re.sub(r"[^A-Za-z0-9_.+=-]+", "-", name).strip("-")[:120] or "file"


class Scratch:
    KEEP_S = 3600  # a caller downloads its files right after the call; the outputs folder keeps the artist's copy

    def __init__(self, prefix: str) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix=prefix))
        atexit.register(shutil.rmtree, self.folder, ignore_errors=True)
        gr.set_static_paths([self.folder])

    def path(self, name: str) -> Path:
        """A fresh path named `name` (what a download saves as) in its own folder of 128 random bits: the scratch
        folder's name is in every response, and a counter would let visitors fetch each other's files."""
        self._prune()
        folder = self.folder / secrets.token_urlsafe(16)
        folder.mkdir()
        return folder / slug(name)

    def save_png(self, image: Image.Image, stem: str) -> Path:
        """A PNG that keeps the image's infotext."""
        path = self.path(f"{stem}.png")
        image.save(path, format="PNG", pnginfo=png_info(image.info["parameters"]) if "parameters" in image.info else None)
        return path

    def _prune(self) -> None:
        cutoff = time.time() - self.KEEP_S
        for old in self.folder.iterdir():
            try:
                if old.stat().st_mtime < cutoff:
                    shutil.rmtree(old)
            except FileNotFoundError:  # another job pruned it first
                pass
