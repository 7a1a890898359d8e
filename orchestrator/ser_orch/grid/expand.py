"""Expand a grid into plain trial configs (JSON-able dicts). No Ray here."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from .errors import GridError
from .load import Grid
from .schema import RangeAxis

# Sections of the grid that become part of each trial config and that axes/overrides may address.
TRIAL_SECTIONS = ("dataset", "features", "protocol", "model", "loss", "train")
_UNSAFE = re.compile(r"[^A-Za-z0-9._\-]+")
# A config id is a file name (trials/<id>__fold=F__seed=S.json, curves/<id>.png, Tune's trial
# folder): its readable part is cut at this length, so no id can exceed a file system's 255 bytes.
MAX_READABLE_ID = 120
HASH_CHARS = 10
# A grid expanding to more trials than this is refused before anything is built: a mistyped
# range (10^6 trials) would otherwise take minutes and gigabytes before failing. --max-trials N.
DEFAULT_MAX_TRIALS = 20_000


def axis_values(grid: Grid) -> dict[str, list[Any]]:
    """The grid's axes in file order, ranges spelled out. A value listed twice is a GridError:
    both would run as one configuration id, two Tune trials writing one record."""
    axes: dict[str, list[Any]] = {}
    for key, values in grid.spec.grid.items():
        axes[key] = values.values() if isinstance(values, RangeAxis) else list(values)
        seen: set[str] = set()
        for value in axes[key]:
            if canonical(value) in seen:
                raise GridError(_source(grid), f"grid.{key}", f"lists {value!r} twice; give each value once")
            seen.add(canonical(value))
    return axes


def set_dotted(config: dict[str, Any], key: str, value: Any, *, source: str | None = None) -> None:
    """Set `a.b.c` inside nested dicts; the first part must be a trial section."""
    parts = key.split(".")
    if parts[0] not in TRIAL_SECTIONS or len(parts) < 2:
        raise GridError(source, key, f"keys must start with one of {', '.join(TRIAL_SECTIONS)} (e.g. model.depth)")
    node = config
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise GridError(source, key, f"'{part}' is a value, not a section")
        node = child
    node[parts[-1]] = value


def get_dotted(config: dict[str, Any], key: str, default: Any = None) -> Any:
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def canonical(value: Any) -> str:
    """One text per value (key order ignored) to compare and hash axis values."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _config_id(axes: dict[str, Any]) -> str:
    """``family=resnet,depth=11``: readable and, as a file name, safe. Where making it safe changed
    a character (``/x/rav x`` and ``/x/rav+x`` both read ``_x_rav_x``) or it had to be cut short,
    ``~`` and a hash of the exact axis values follow, so distinct configurations never share an id
    and the same configuration gets the same id in every run."""
    if not axes:
        return "default"
    leaves = [key.split(".")[-1] for key in axes]
    use_leaf = len(set(leaves)) == len(leaves)
    parts = []
    exact = True
    for key, value in axes.items():
        name = key.split(".")[-1] if use_leaf else key
        text = f"{name}={value}"
        safe = f"{_UNSAFE.sub('_', name)}={_UNSAFE.sub('_', str(value))}"
        exact = exact and safe == text
        parts.append(safe)
    readable = ",".join(parts)
    if exact and len(readable) <= MAX_READABLE_ID:
        return readable
    digest = hashlib.sha256(canonical(axes).encode()).hexdigest()[:HASH_CHARS]
    return f"{readable[:MAX_READABLE_ID]}~{digest}"


def base_config(grid: Grid, *, quick: bool = False) -> dict[str, Any]:
    """The trial sections before axes are applied (with the quick profile if asked)."""
    spec = grid.spec
    base = {section: copy.deepcopy(getattr(spec, section)) for section in TRIAL_SECTIONS}
    base = {k: (v.model_dump() if hasattr(v, "model_dump") else v) for k, v in base.items()}
    if quick:
        for key, value in spec.quick.items():
            if key in ("folds", "seeds"):
                continue
            set_dotted(base, key, copy.deepcopy(value), source=_source(grid) + " quick")
    return base


def _source(grid: Grid) -> str:
    return str(grid.path) if grid.path else grid.name


def parse_fold_list(text: str | None, option: str = "--folds") -> list[int] | None:
    """'0,1,2' or '0-2' -> [0, 1, 2]; None -> None (every fold). An empty or reversed selection is
    an error: a run of zero trials is never what was meant."""
    if text is None:
        return None
    values: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                lo, hi = (int(v) for v in part.split("-", 1))
                if hi < lo:
                    raise GridError(None, option, f"range '{part}' is reversed; write {hi}-{lo}")
                values.extend(range(lo, hi + 1))
            else:
                values.append(int(part))
        except ValueError:
            raise GridError(None, option, f"expected integers like 0,1,2 or 0-4, got '{text}'") from None
    if not values:
        raise GridError(None, option, f"selects no fold (got '{text}'); give e.g. 0,1,2 or 0-4")
    return values


def selected_folds(grid: Grid, *, quick: bool, folds: Sequence[int] | None) -> list[int]:
    n_folds = grid.spec.protocol.folds
    if folds is None and quick and "folds" in grid.spec.quick:
        folds = grid.spec.quick["folds"]
        key = "quick.folds"
    else:
        key = "--folds"
    if folds is None:
        return list(range(n_folds))
    chosen = sorted({int(f) for f in folds})
    bad = [f for f in chosen if not 0 <= f < n_folds]
    if bad:
        raise GridError(_source(grid), key, f"fold(s) {bad} out of range; the protocol has folds 0..{n_folds - 1}")
    return chosen


def expand(
    grid: Grid,
    *,
    quick: bool = False,
    folds: Sequence[int] | None = None,
    seeds: Sequence[int] | None = None,
    overrides: dict[str, Any] | None = None,
    max_trials: int | None = DEFAULT_MAX_TRIALS,
) -> list[dict[str, Any]]:
    """All trials of the grid: axes product x folds x seeds, as plain dicts.

    `overrides` (dotted keys) are applied after the quick profile and before the axes; an
    override of a key that is also an axis replaces the axis by that single value. More than
    ``max_trials`` trials (None: no limit) is a GridError, raised before any trial is built.
    """
    spec = grid.spec
    fold_list = selected_folds(grid, quick=quick, folds=folds)
    if seeds is None:
        seeds = spec.quick.get("seeds", spec.seeds) if quick else spec.seeds
    sizes = {key: len(range(v.range[0], v.range[1] + 1, v.step)) if isinstance(v, RangeAxis) else len(v)
             for key, v in spec.grid.items()}
    sizes.update({key: 1 for key in (overrides or {}) if key in sizes})
    _check_size(grid, sizes, len(fold_list), len(seeds), max_trials)
    base = base_config(grid, quick=quick)
    axes = axis_values(grid)
    for key, value in (overrides or {}).items():
        if key in axes:
            axes[key] = [value]
        else:
            set_dotted(base, key, copy.deepcopy(value), source="command line")
    for key in axes:
        set_dotted(copy.deepcopy(base), key, None, source=_source(grid) + " grid")  # key shape check
    trials: list[dict[str, Any]] = []
    for combo in itertools.product(*axes.values()):
        point = dict(zip(axes.keys(), combo))
        config = copy.deepcopy(base)
        for key, value in point.items():
            set_dotted(config, key, value)
        config_id = _config_id(point)
        for fold in fold_list:
            for seed in seeds:
                trials.append(
                    {
                        "trial_id": f"{config_id}__fold={fold}__seed={seed}",
                        "config_id": config_id,
                        "axes": point,
                        "fold": fold,
                        "seed": int(seed),
                        "grid": spec.name,
                        "task": spec.task,
                        **copy.deepcopy(config),
                    }
                )
    return trials


def count_trials(sizes: dict[str, int], n_folds: int, n_seeds: int) -> int:
    """Trials of a grid from its factors: values per axis x folds x seeds."""
    return math.prod(sizes.values()) * n_folds * n_seeds


def _check_size(grid: Grid, sizes: dict[str, int], n_folds: int, n_seeds: int, max_trials: int | None) -> None:
    """Count the trials from the factors (nothing materialised) and refuse more than ``max_trials``."""
    n_trials = count_trials(sizes, n_folds, n_seeds)
    if max_trials is None or n_trials <= max_trials:
        return
    factors = " x ".join([*(f"{n} {k}" for k, n in sizes.items()), f"{n_folds} fold(s)", f"{n_seeds} seed(s)"])
    raise GridError(_source(grid), "grid", f"expands to {n_trials:,} trials ({factors}); the limit is {max_trials:,}: "
                    "shrink an axis, or raise the limit with --max-trials N")


def count_configs(trials: Iterable[dict[str, Any]]) -> int:
    return len({t["config_id"] for t in trials})
