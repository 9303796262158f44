"""Where training caches live: the user's cache folder, never the (read-only) data folder."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def cache_root(override: str | Path | None = None) -> Path:
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "siamface"


def file_stamps(paths) -> list[tuple[str, int, str]]:
    """(path, size, content digest) of each file: a changed photo changes the cache key.

    Content rather than mtime: the data folder is re-provisioned with new timestamps and the same
    bytes, and an mtime key would throw away an hour of teacher embeddings each time.
    """
    stamps = []
    for path in paths:
        data = Path(path).read_bytes()
        stamps.append((str(path), len(data), hashlib.blake2b(data, digest_size=8).hexdigest()))
    return stamps


def cache_key(*parts: object) -> str:
    """A short stable hash of everything that changes what a cache holds."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
