"""A bounded, thread-safe LRU of computed maps, keyed by image content and every parameter."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from PIL import Image


def map_key(image: Image.Image, name: str, processor_res: int, threshold_a: float | None, threshold_b: float | None) -> str:
    digest = hashlib.sha256(image.tobytes())
    digest.update(f"|{image.size}|{image.mode}|{name}|{processor_res}|{threshold_a}|{threshold_b}".encode())
    return digest.hexdigest()


class MapCache:
    """Evicts least recently used maps once either bound (entries or bytes) is exceeded."""

    def __init__(self, max_entries: int = 64, max_bytes: int = 256 * 2**20):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._items: OrderedDict[str, Image.Image] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> Image.Image | None:
        with self._lock:
            image = self._items.get(key)
            if image is not None:
                self._items.move_to_end(key)
            return image

    def put(self, key: str, image: Image.Image) -> None:
        size = len(image.tobytes())
        if self.max_entries <= 0 or size > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = image
            self._bytes += size
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= len(evicted.tobytes())

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes
