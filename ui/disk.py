"""Keep the server's disk from filling: uploads and returned files expire, and cut-off uploads are removed."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)


def cache_schedule(hours: float) -> tuple[float, float]:
    """(every, age) in seconds for gradio's `delete_cache` and the sweep: check four times per lifetime, 15 min at most."""
    age = max(1.0, hours * 3600)
    return min(max(age / 4, 1.0), 900.0), age


def sweep(upload_dir: Path, age_s: float) -> int:
    """Remove what gradio's own `delete_cache` leaves: half-written uploads (`tmp*` files at the top of its upload
    folder, left when a client disconnects mid-upload) and the emptied per-file folders. Hand-written: no library or
    gradio setting cleans these. Returns how many were removed."""
    removed, cutoff = 0, time.time() - age_s
    if not upload_dir.is_dir():
        return 0
    for entry in upload_dir.iterdir():
        try:
            if entry.is_file() and entry.name.startswith("tmp") and entry.stat().st_mtime < cutoff:
                entry.unlink()
                removed += 1
            elif entry.is_dir() and not any(entry.iterdir()) and entry.stat().st_mtime < cutoff:
                entry.rmdir()
                removed += 1
        except OSError:  # another sweep or gradio removed it first, or it is being written
            continue
    return removed


def start_sweeper(upload_dir: Path, hours: float) -> threading.Thread:
    """Sweep on gradio's delete_cache schedule, on a daemon thread started by app.py."""
    every, age = cache_schedule(hours)

    def run() -> None:
        while True:
            time.sleep(every)
            count = sweep(upload_dir, age)
            if count:
                log.info("removed %d abandoned upload file(s) or folder(s) from %s", count, upload_dir)

    thread = threading.Thread(target=run, name="upload-sweeper", daemon=True)
    thread.start()
    return thread
