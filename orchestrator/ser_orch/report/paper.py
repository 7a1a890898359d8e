"""The grid's ``report:`` section: series/x keys and the paper's numbers to show beside ours.

The entries themselves are the grid schema's ``PaperEntry`` (one definition); paper values are
percentages (as printed in the papers), our records hold fractions.
Matching a paper entry's ``where`` to a configuration's axes ignores int/str/float spelling
(``11``, ``"11"`` and ``11.0`` are equal) and letter case, because YAML authors write both.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

from ser_orch.grid.schema import PaperEntry, ReportSpec

__all__ = ["PaperEntry", "ReportSpec", "best_paper_entry", "paper_match", "paper_value", "values_match"]


def _norm(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        text = value.strip()
        try:
            return _norm(float(text))
        except ValueError:
            return text.lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, sort_keys=True).lower()


def values_match(a: Any, b: Any) -> bool:
    """Equal once spelled the same way (``11 == "11" == 11.0``, case-insensitive strings)."""
    return _norm(a) == _norm(b)


def _where_matches(where: Mapping[str, Any], axes: Mapping[str, Any]) -> bool:
    return all(key in axes and values_match(value, axes[key]) for key, value in where.items())


def paper_match(paper_entries: Iterable[Any], axes: Mapping[str, Any], metric: str) -> PaperEntry | None:
    """The first entry whose ``where`` matches ``axes`` and that has a value for ``metric``."""
    for raw in paper_entries:
        entry = PaperEntry.from_any(raw)
        if metric in entry.values and _where_matches(entry.where, axes):
            return entry
    return None


def paper_value(paper_entries: Iterable[Any], axes: Mapping[str, Any], metric: str) -> float | None:
    """The paper's ``metric`` (a percentage) for the configuration with these axes, or None."""
    entry = paper_match(paper_entries, axes, metric)
    return None if entry is None else entry.values[metric]


def best_paper_entry(
    paper_entries: Iterable[Any], series_key: str | None, series_value: Any, metric: str
) -> PaperEntry | None:
    """The paper's highest ``metric`` among entries of one series (all entries if no series)."""
    best: PaperEntry | None = None
    for raw in paper_entries:
        entry = PaperEntry.from_any(raw)
        if metric not in entry.values:
            continue
        if series_key is not None:
            if series_key not in entry.where or not values_match(entry.where[series_key], series_value):
                continue
        if best is None or entry.values[metric] > best.values[metric]:
            best = entry
    return best
