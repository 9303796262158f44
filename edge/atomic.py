"""Atomic file replacement: a crash or power cut mid-write leaves the old file intact."""

from __future__ import annotations

import glob
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def _umask() -> int:
    """The process's umask, read where Linux shows it (setting it to read it races other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _keep_mode_and_owner(fd: int, path: Path) -> None:
    """The new file gets the old one's mode and owner (a config rewritten by root must stay readable
    by the service user); a file written for the first time gets the umask's mode, not mkstemp's 0600."""
    try:
        old = os.stat(path)
    except FileNotFoundError:
        os.fchmod(fd, 0o666 & ~_umask())
        return
    os.fchmod(fd, old.st_mode & 0o7777)
    try:
        os.fchown(fd, old.st_uid, old.st_gid)
    except PermissionError:  # only root may give a file away; the mode is kept all the same
        pass


# A temporary file this old was left by a writer that was killed (a live one takes seconds).
STALE_SECONDS = 600


def _remove_stale_temporaries(path: Path) -> None:
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            if time.time() - leftover.stat().st_mtime > STALE_SECONDS:
                leftover.unlink()
        except OSError:  # gone already, or not ours to remove: it does no harm
            pass


def write_atomically(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write`` on a temporary file beside ``path``, fsync it, then rename it over ``path``,
    keeping its mode and owner."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        _keep_mode_and_owner(fd, path)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _remove_stale_temporaries(path)
    # The rename itself is only durable once the directory entry is on disk.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_text_atomically(path: str | Path, text: str) -> None:
    write_atomically(path, lambda handle: handle.write(text.encode("utf-8")))
