"""Writes a Hugging Face hub cache laid out like the real one, so the real loading code runs offline."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

FAKE_REVISION = "0123456789abcdef0123456789abcdef01234567"


def _repo_dir(cache_dir: Path, repo_id: str, repo_type: str = "model") -> Path:
    return Path(cache_dir) / f"{repo_type}s--{repo_id.replace('/', '--')}"


def add_file(cache_dir: Path, repo_id: str, path_in_repo: str, source: Path | bytes) -> Path:
    """Store one file as blob + snapshot symlink + refs/main, exactly as huggingface_hub does."""
    repo = _repo_dir(cache_dir, repo_id)
    data_path = None
    if isinstance(source, (bytes, bytearray)):
        digest = hashlib.sha256(source).hexdigest()
    else:
        data_path = Path(source)
        hasher = hashlib.sha256()
        with open(data_path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                hasher.update(chunk)
        digest = hasher.hexdigest()
    blob = repo / "blobs" / digest
    blob.parent.mkdir(parents=True, exist_ok=True)
    if not blob.exists():
        if data_path is None:
            blob.write_bytes(bytes(source))
        else:
            shutil.copyfile(data_path, blob)
    link = repo / "snapshots" / FAKE_REVISION / path_in_repo
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink(os.path.relpath(blob, link.parent), link)
    refs = repo / "refs" / "main"
    refs.parent.mkdir(parents=True, exist_ok=True)
    refs.write_text(FAKE_REVISION)
    return link


def add_folder(cache_dir: Path, repo_id: str, folder: Path) -> Path:
    """Store every file under `folder` in the repo, keeping relative paths; returns the snapshot dir."""
    folder = Path(folder)
    for file in sorted(folder.rglob("*")):
        if file.is_file():
            add_file(cache_dir, repo_id, file.relative_to(folder).as_posix(), file)
    return snapshot_dir(cache_dir, repo_id)


def snapshot_dir(cache_dir: Path, repo_id: str) -> Path:
    return _repo_dir(cache_dir, repo_id) / "snapshots" / FAKE_REVISION
