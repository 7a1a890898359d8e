"""Shared cell formatting for tables, Markdown and CSV headers."""

from __future__ import annotations

import json
import math
from typing import Any, Iterable, Sequence

__all__ = [
    "BEST_MARKER",
    "MISSING",
    "axis_headers",
    "axis_keys",
    "format_axis_value",
    "metric_name",
    "paper_pct",
    "pct",
]

BEST_MARKER = "★"  # visible without colour (plain-text logs, Markdown)
MISSING = "-"

_METRIC_NAMES = {"wa": "WA", "ua": "UA", "softmax_wa": "softmax WA"}


def pct(value: float | None, digits: int = 2) -> str:
    """A fraction as a percentage with fixed decimals: 0.61114 -> "61.11"."""
    if value is None or not math.isfinite(value):
        return MISSING
    return f"{100.0 * value:.{digits}f}"


def paper_pct(value: float | None, digits: int = 2) -> str:
    """A paper value, already a percentage."""
    if value is None or not math.isfinite(value):
        return MISSING
    return f"{value:.{digits}f}"


def metric_name(metric: str) -> str:
    return _METRIC_NAMES.get(metric, metric)


def format_axis_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, sort_keys=True)


def axis_keys(all_axes: Iterable[dict[str, Any]]) -> list[str]:
    """Axis names in first-seen order over all configurations."""
    keys: dict[str, None] = {}
    for axes in all_axes:
        for key in axes:
            keys.setdefault(key, None)
    return list(keys)


def axis_headers(keys: Sequence[str]) -> list[str]:
    """Short column headers (``model.depth`` -> ``depth``) unless two keys would collide."""
    short = [k.rsplit(".", 1)[-1] for k in keys]
    return short if len(set(short)) == len(short) else list(keys)
