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


def file_stamps(paths) -> list[tuple[str, int, int]]:
    """(path, size, mtime) of each file: a changed or replaced photo changes the cache key."""
    return [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in paths]


def cache_key(*parts: object) -> str:
    """A short stable hash of everything that changes what a cache holds."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
