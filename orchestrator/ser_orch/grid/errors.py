"""Grid errors name the file, the key and what is allowed."""

from __future__ import annotations

from pathlib import Path

from ser_data.errors import SerError


class GridError(SerError):
    """A grid file that cannot be run as written."""

    def __init__(self, source: str | Path | None, key: str | None, message: str) -> None:
        self.source = str(source) if source is not None else None
        self.key = key
        self.detail = message
        where = ": ".join(part for part in (self.source, key) if part)
        super().__init__(f"{where}: {message}" if where else message)
