"""User-facing errors. The CLI prints these as one line and exits with code 2."""

from __future__ import annotations

from pathlib import Path


class SerError(Exception):
    """Base of every error that is the user's input, not a bug."""


class DataError(SerError):
    """A bad data root, layout, dataset/feature/protocol name or parameter.

    `key` names the offending parameter where there is one (e.g. ``params.n_fft``), so a grid
    checker can point at the exact grid key.
    """

    def __init__(self, message: str, key: str | None = None) -> None:
        self.key = key
        super().__init__(message)


class AudioFileError(DataError):
    """One unreadable or unusable audio file."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
