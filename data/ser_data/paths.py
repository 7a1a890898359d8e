"""User-level folders shared by every part of ser_data (caches, generated corpora)."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir() -> Path:
    """The per-user cache folder: `$SER_ORCH_CACHE`, else `$XDG_CACHE_HOME/ser-orch`, else `~/.cache/ser-orch`.

    The folder is not created here; callers create the sub-folders they write to.
    """
    explicit = os.environ.get("SER_ORCH_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "ser-orch"
