"""Save results as PNGs carrying their infotext, in dated folders as A1111 does."""

from __future__ import annotations

import datetime as _dt
import logging
import threading
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

log = logging.getLogger(__name__)


def with_parameters(image: Image.Image, infotext: str) -> Image.Image:
    """Attach the infotext so every consumer (gallery, API, disk) writes it as the PNG `parameters` chunk."""
    image.info["parameters"] = infotext
    return image


def png_info(infotext: str) -> PngInfo:
    """PIL stores non-Latin-1 text as iTXt (UTF-8), so unicode prompts survive."""
    info = PngInfo()
    info.add_text("parameters", infotext)
    return info


class OutputWriter:
    """Numbers files per day folder; a failing disk never loses the image, it only logs once per folder."""

    def __init__(self, root: Path | None):
        self.root = Path(root) if root else None
        self._lock = threading.Lock()
        self._warned: set[str] = set()

    def save(self, image: Image.Image, seed: int) -> tuple[Path | None, str | None]:
        """Return (path, None) on success or (None, sentence) when the outputs folder cannot be written."""
        if self.root is None:
            return None, None
        folder = self.root / _dt.date.today().isoformat()
        try:
            with self._lock:
                folder.mkdir(parents=True, exist_ok=True)
                number = sum(1 for _ in folder.glob("*.png"))
                path = folder / f"{number:05d}-{seed}.png"
                image.save(path, format="PNG", pnginfo=png_info(image.info.get("parameters", "")))
            return path, None
        except OSError as error:
            message = f"Could not save images to {folder} ({error.strerror or error}); results are shown but not written to disk."
            if str(folder) not in self._warned:
                self._warned.add(str(folder))
                log.error(message)
            return None, message
