"""Loader options: each dataset declares the options it accepts in one place (its OPTIONS tuple).

A grid addresses them as `dataset.<option>`; `check_options` turns given values into the
resolved set (defaults filled in) or raises one DataError naming the dataset and the option.
An option given as None counts as not given (so `label_set=None` works for every dataset).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ser_data.errors import DataError
from ser_data.labels import DROP

KINDS = ("choice", "bool", "number", "path", "label_map", "classes")


@dataclass(frozen=True)
class Option:
    """One loader option: `kind` says which values are accepted (see KINDS)."""

    name: str
    kind: str
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] = ()
    minimum: float | None = None

    def describe(self) -> str:
        """`name: what (default ...)`, for help texts and error messages."""
        what = {
            "choice": f"one of {', '.join(self.choices)}",
            "bool": "true or false",
            "number": "a number" + (f" >= {self.minimum:g}" if self.minimum is not None else ""),
            "path": "a path",
            "label_map": f"a mapping label -> new label or {DROP}",
            "classes": "a list of class names",
        }[self.kind]
        default = "" if self.default is None else f" (default {self.default})"
        return f"{self.name}: {what}{default}. {self.help}".rstrip(". ") + ("." if self.help else "")

    def check(self, dataset: str, value: Any) -> Any:
        """The value in canonical form, or DataError `dataset <d>: dataset.<name>=...: ...`."""
        def bad(why: str) -> DataError:
            return DataError(f"dataset {dataset}: dataset.{self.name}={value!r}: {why}")

        if self.kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise bad(f"allowed: {', '.join(self.choices)}")
            return value
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise bad("expected true or false")
            return value
        if self.kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise bad("expected a number")
            if self.minimum is not None and value < self.minimum:
                raise bad(f"expected a number >= {self.minimum:g}")
            return float(value)
        if self.kind == "path":
            if not isinstance(value, str) or not value.strip():
                raise bad("expected a path (a non-empty string)")
            return value
        if self.kind == "label_map":
            return _check_label_map(value, bad)
        if self.kind == "classes":
            return _check_classes(value, bad)
        raise AssertionError(self.kind)


def _check_label_map(value: Any, bad: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise bad(f"expected a mapping label -> new label (or {DROP}), e.g. {{exc: happy, fru: {DROP}}}")
    out: dict[str, str] = {}
    for key, target in value.items():
        if not isinstance(key, str) or not key:
            # YAML reads `01: angry` as the integer 1: say so instead of silently missing '01'.
            raise bad(f"label {key!r} is not a string; quote it (e.g. '{key}': ...)")
        if not isinstance(target, str) or not target.strip():
            raise bad(f"{key!r} maps to {target!r}; expected a label name or {DROP}")
        out[key] = target.strip()
    return out


def _check_classes(value: Any, bad: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise bad("expected a non-empty list of class names, e.g. [neutral, happy, angry, sad]")
    names = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise bad(f"class {item!r} is not a name")
        if item == DROP:
            raise bad(f"'{DROP}' is not a class name (it is the label-map keyword)")
        if item in names:
            raise bad(f"class {item!r} is listed twice")
        names.append(item)
    return tuple(names)


# Options every loader accepts (applied by load_manifest, or by file-based loaders per row).
COMMON = (
    Option("labels", "label_map", None, "rename, merge or drop labels, e.g. {excited: happy, frustrated: drop}"),
    Option("classes", "classes", None, "the class order (= class ids); every label must be in it"),
)


def check_options(dataset: str, declared: Sequence[Option], given: Mapping[str, Any],
                  offered_by: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """Resolve `given` against `declared`: defaults filled in, values checked.

    `offered_by` (option -> datasets that accept it) makes the unknown-option error say where an
    option belongs (e.g. improvised_only -> iemocap).
    """
    by_name = {o.name: o for o in declared}
    out = {o.name: o.default for o in declared}
    for key, value in given.items():
        if value is None:
            continue
        if key not in by_name:
            hint = ""
            owners = [d for d in (offered_by or {}).get(key, ()) if d != dataset]
            if owners:
                hint = f" ({key} is an option of: {', '.join(owners)})"
            allowed = ", ".join(sorted(by_name)) or "none"
            raise DataError(f"dataset {dataset}: unknown option dataset.{key}{hint}; allowed: {allowed}")
        out[key] = by_name[key].check(dataset, value)
    return out
