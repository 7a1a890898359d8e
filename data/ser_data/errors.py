"""User-facing errors. The CLI prints these as one line and exits with code 2."""

from __future__ import annotations

from pathlib import Path


class SerError(Exception):
    """Base of every error that is the user's input, not a bug."""


class DataError(SerError):
    """A bad data root, layout, dataset/feature/protocol name or parameter."""


class AudioFileError(DataError):
    """One unreadable or unusable audio file."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
