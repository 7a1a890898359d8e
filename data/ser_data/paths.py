"""User-level folders and files shared by every part of ser_data (caches, corpora, config)."""

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


def user_config_dir() -> Path:
    """`$XDG_CONFIG_HOME/ser-orch`, else `~/.config/ser-orch` (not created here)."""
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / "ser-orch"


def datasets_config_file() -> Path:
    """The optional data-roots file: `$SER_ORCH_DATASETS`, else `<user_config_dir>/datasets.yaml`."""
    explicit = os.environ.get("SER_ORCH_DATASETS")
    return Path(explicit).expanduser() if explicit else user_config_dir() / "datasets.yaml"
