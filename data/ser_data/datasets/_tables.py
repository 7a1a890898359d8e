"""Reading list files (CSV, TSV, JSONL) row by row, with errors that name file, line and column."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ser_data.errors import DataError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


@dataclass(frozen=True)
class Row:
    """One record: `line` is the 1-based line it starts on (the CSV header is line 1)."""

    file: Path
    line: int
    values: dict[str, Any]

    def where(self, column: str | None = None) -> str:
        return f"{self.file}:{self.line}" + (f": column {column!r}" if column else "")

    def error(self, column: str | None, why: str) -> DataError:
        return DataError(f"{self.where(column)}: {why}")

    def text(self, column: str, *, required: bool = False) -> str | None:
        """The stripped value, None when absent or empty (DataError if `required`)."""
        value = self.values.get(column)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise self.error(column, "empty; a value is required")
            return None
        if isinstance(value, (dict, list)):
            raise self.error(column, f"expected a single value, got {json.dumps(value)[:40]}")
        return str(value).strip()

    def number(self, column: str) -> float | None:
        """A finite float, None when empty."""
        value = self.values.get(column)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            out = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            out = math.nan
        if not math.isfinite(out):
            raise self.error(column, f"{value!r} is not a number")
        return out

    def integer(self, column: str) -> int | None:
        """An integer (3 or "3"; not 3.5 or "three"), None when empty."""
        value = self.values.get(column)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, bool):
            raise self.error(column, f"{value!r} is not an integer")
        if isinstance(value, int):
            return value
        text = str(value).strip()
        try:
            return int(text)
        except ValueError:
            raise self.error(column, f"{value!r} is not an integer") from None


def table_format(path: Path, given: str | None, dataset: str) -> str:
    if given:
        return given
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"{dataset}: cannot tell the format of {path} from its extension; "
                        f"use {', '.join(FORMATS)} or give dataset.format ({', '.join(sorted(set(FORMATS.values())))})")
    return fmt


def read_rows(path: Path, fmt: str, required: Sequence[str] = (), *, lower: bool = True) -> Iterator[Row]:
    """Rows of a CSV/TSV (header row; column names stripped, lower-cased if `lower`) or JSONL file.

    CSV: a missing required column is an error naming the header line; JSONL: each line must be
    an object holding the required keys.
    """
    try:
        if fmt in ("csv", "tsv"):
            yield from _csv_rows(path, "\t" if fmt == "tsv" else ",", required, lower)
        else:
            yield from _jsonl_rows(path, required)
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc


def _csv_rows(path: Path, delimiter: str, required: Sequence[str], lower: bool) -> Iterator[Row]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise DataError(f"{path}: the file is empty (expected a header line)") from None
        except csv.Error as exc:
            raise DataError(f"{path}:1: {exc}") from exc
        names = [h.strip().lower() if lower else h.strip() for h in header]
        missing = [c for c in required if c not in names]
        if missing:
            raise DataError(f"{path}:1: missing column {', '.join(map(repr, missing))} in the header "
                            f"(found: {', '.join(names) or 'nothing'})")
        dupes = sorted({n for n in names if names.count(n) > 1 and n})
        if dupes:
            raise DataError(f"{path}:1: column {dupes[0]!r} appears twice in the header")
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise DataError(f"{path}:{start}: {exc}") from exc
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) != len(names):
                raise DataError(f"{path}:{start}: {len(cells)} fields, but the header has {len(names)}")
            yield Row(path, start, dict(zip(names, cells)))


def _jsonl_rows(path: Path, required: Sequence[str]) -> Iterator[Row]:
    with path.open(encoding="utf-8-sig") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
            if not isinstance(record, dict):
                raise DataError(f"{path}:{number}: expected a JSON object per line")
            row = Row(path, number, record)
            for column in required:
                if column not in record:
                    raise row.error(column, f"missing (keys: {', '.join(record)})")
            yield row
