"""The grid's ``report:`` section: series/x keys and the paper's numbers to show beside ours.

Paper values are percentages (as printed in the papers); our records hold fractions.
Matching a paper entry's ``where`` to a configuration's axes ignores int/str/float spelling
(``11``, ``"11"`` and ``11.0`` are equal) and letter case, because YAML authors write both.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

__all__ = ["PaperEntry", "ReportSpec", "best_paper_entry", "paper_match", "paper_value", "values_match"]

_NON_METRIC_KEYS = {"where", "source"}


def _get(obj: Any, key: str, default: Any = None) -> Any:
    # The grid module may hand us plain dicts or pydantic/dataclass objects.
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


@dataclass(frozen=True)
class PaperEntry:
    where: dict[str, Any]
    values: dict[str, float]  # metric -> percentage; null values are left out
    source: str | None = None

    @classmethod
    def from_any(cls, raw: Any) -> PaperEntry:
        if isinstance(raw, PaperEntry):
            return raw
        if isinstance(raw, Mapping):
            items = dict(raw)
        elif hasattr(raw, "model_dump"):  # pydantic v2 model
            items = raw.model_dump()
        else:
            items = dict(vars(raw))
        values: dict[str, float] = {}
        for key, value in items.items():
            if key in _NON_METRIC_KEYS or value is None or isinstance(value, bool):
                continue
            if isinstance(value, (int, float)) and math.isfinite(value):
                values[key] = float(value)
        source = items.get("source")
        return cls(dict(items.get("where") or {}), values, None if source is None else str(source))


@dataclass(frozen=True)
class ReportSpec:
    series: str | None = None
    x: str | None = None
    paper: list[PaperEntry] = field(default_factory=list)
    metrics: tuple[str, ...] = ("wa", "ua")

    @classmethod
    def from_any(cls, spec: Any) -> ReportSpec:
        """From the grid's ``report`` section (dict or object) or None."""
        if spec is None:
            return cls()
        if isinstance(spec, ReportSpec):
            return spec
        return cls(
            series=_get(spec, "series"),
            x=_get(spec, "x"),
            paper=[PaperEntry.from_any(e) for e in (_get(spec, "paper") or [])],
            metrics=tuple(_get(spec, "metrics") or ("wa", "ua")),
        )


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
