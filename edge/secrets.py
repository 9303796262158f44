"""Secrets (webhook token, MQTT password) come from the environment or a file, not from config.yaml,
which is world-readable on most installs."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import SiamfaceError


def read_secret(env: str | None, file: str | Path | None, key: str) -> str | None:
    """The secret named by ``<key>_env`` or ``<key>_file``; None when neither is set."""
    if env:
        value = os.environ.get(env)
        if value is None:
            raise SiamfaceError(f"{key}_env={env!r}: environment variable {env} is not set")
        return value
    if file:
        try:
            return Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SiamfaceError(f"{key}_file={str(file)!r}: cannot read ({exc.strerror})") from None
    return None
