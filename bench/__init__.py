"""Benchmarks run offline against a private, throw-away hub cache.

Set here, before any bench module imports huggingface_hub (which reads these once): the preprocessor bench
fills the cache with random-weight annotators, which must never land in a user's real cache.
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

_SCRATCH = tempfile.mkdtemp(prefix="bench-hub-")
atexit.register(shutil.rmtree, _SCRATCH, ignore_errors=True)  # the fake annotators weigh 1.5 GB
os.environ["HF_HUB_CACHE"] = str(Path(_SCRATCH) / "hub")
os.environ["HF_HUB_OFFLINE"] = "1"
