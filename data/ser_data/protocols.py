"""Cross-validation protocols of the four papers: `make_folds(name, data, **params)`.

`data` is a Manifest or a FeatureSet; fold indices point into it (so folds made on a FeatureSet
skip utterances that failed extraction). `val` is empty where a protocol has no validation part.

Validation parts. Early stopping and model selection need data the test never sees, so every
protocol gives each fold a validation part drawn from its training part only (the test part is
untouched), sized by `val_fraction` (default 0.1 of the training utterances; 0 = none, the old
behaviour) and drawn the way the protocol's test part is: stratified over utterances for the
speaker-dependent protocols (kumar_70_30, liu_random_80_20), whole speakers for the
speaker-independent ones (speaker_kfold, lian_loso), so validation accuracy estimates what the
test measures. mocanu_actor10 has its own validation actors (the paper's 80/10/10).

- speaker_kfold (folds=5, seed=0, val=False, val_fraction=0.1): speakers shuffled and dealt into
  `folds` groups; fold i tests group i; validation = training speakers worth `val_fraction` of
  the training utterances (or, with val=True, group i+1). No speaker is in two parts.
- kumar_70_30 (folds=10, test_size=0.3, seed=0, val_fraction=0.1): ten stratified random 70/30
  utterance splits (sklearn StratifiedShuffleSplit), validation stratified out of the 70 %.
  Kumar et al. write "70%-30% split and 10-fold cross-validation", which is ambiguous; the other
  reading is `speaker_kfold` with folds=10.
- mocanu_actor10 (folds=10, seed=None, scheme="partition"): actors in natural order (shuffled
  when a seed is given) are dealt into `folds` consecutive groups; fold i tests group i,
  validates on group i+1 and trains on the rest (about 80/10/10 of the actors; every actor is
  tested exactly once; 24 actors -> test groups of 3 and 2, 91 -> 10 and 9). scheme="table1"
  reproduces the paper's Table 1 literally (only for 24 and 91 actors; with 24 actors its
  sliding windows test actor 24 twice and actors 19-21 never).
- liu_random_80_20 (folds=5, seed=0, mode="kfold", val_fraction=0.1): stratified 5-fold CV over
  utterances, so each fold is a random 80/20 split and every utterance is tested once;
  mode="shuffle" draws independent stratified 80/20 splits instead; validation stratified out of
  the 80 %.
- lian_loso (val_fraction=0.1, val_by="speaker", seed=0): leave one IEMOCAP session out (5 folds
  for 5 sessions). The paper uses the four other sessions "as the training set and the validation
  set"; we take whole speakers of those sessions (about `val_fraction` of their utterances) so the
  validation speakers are unseen, as the test's are. Other readings one key away: val_by=session
  (whole training sessions) or val_by=utterance (random stratified utterances of the four).
- predefined (test_split=None, val=False): the corpus's own partitions. With a fold number on
  every utterance (EmoBox fold_<k>, a manifest's fold column): one fold per number in order,
  testing that number's utterances and training on the rest (val=True also validates on the next
  number's). With a split name on every utterance (MSP-Podcast Split_Set, EmoBox train/valid/
  test, a manifest's split column): one fold; train/val/test from the names as ser_data.splits
  maps them. test_split (e.g. "Test1") keeps only that test partition as the test part and
  leaves the other test partitions out (MSP-Podcast reports Test1 and Test2 separately).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

from ser_data.errors import DataError
from ser_data.splits import normalize_split


@dataclass(frozen=True)
class Fold:
    index: int
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def _columns(data: Any) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """(class ids, speakers, sessions) of a Manifest or a FeatureSet."""
    if hasattr(data, "utterances"):
        utts = data.utterances
        return data.label_ids(), np.array([u.speaker for u in utts]), [u.session for u in utts]
    sessions = [s or None for s in data.meta["session"]] if "session" in data.meta else [None] * len(data.y)
    return np.asarray(data.y), np.asarray(data.speakers), sessions


def _partitions(data: Any) -> tuple[list[int | None], list[str | None]]:
    """(fold, split) of every utterance of a Manifest or a FeatureSet (None where it has none)."""
    if hasattr(data, "utterances"):
        return [u.fold for u in data.utterances], [u.split for u in data.utterances]
    n = len(data.y)
    folds = [int(f) if int(f) >= 0 else None for f in data.meta["fold"]] if "fold" in data.meta else [None] * n
    splits = [s or None for s in data.meta["split"]] if "split" in data.meta else [None] * n
    return folds, splits


def _idx(mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(mask).astype(np.int64)


def _natural_key(s: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s))


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low or (high is not None and value > high):
        upper = f"..{high}" if high is not None else "+"
        raise DataError(f"protocol parameter {name}={value!r}: expected an integer {low}{upper}")
    return int(value)


def _check_fraction(name: str, value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 < value < 1.0:
        raise DataError(f"protocol parameter {name}={value!r}: expected a number strictly between 0 and 1")
    return float(value)


DEFAULT_VAL_FRACTION = 0.1
VAL_BY = ("utterance", "speaker", "session")


def _check_val(fraction: Any, by: str) -> float:
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 <= fraction < 1.0:
        raise DataError(f"protocol parameter val_fraction={fraction!r}: expected a number in [0, 1)")
    if by not in VAL_BY:
        raise DataError(f"protocol parameter val_by={by!r}; allowed: {', '.join(VAL_BY)}")
    return float(fraction)


def split_validation(
    train: np.ndarray, y: np.ndarray, groups: np.ndarray | None, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) out of a fold's training indices. `groups` (speakers or sessions of every
    utterance) None: stratified over utterances; else whole groups, shuffled, until they hold
    `fraction` of the training utterances (at least one group, never every group; no validation
    part when the training part has a single group)."""
    empty = np.array([], dtype=np.int64)
    if fraction <= 0 or len(train) < 2:
        return np.sort(train).astype(np.int64), empty
    rng = np.random.default_rng(seed)
    if groups is None:
        n_val = max(1, int(round(fraction * len(train))))
        try:
            splitter = StratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
            keep, val = next(splitter.split(np.zeros(len(train)), y[train]))
        except ValueError:  # a class too small to stratify: a plain random draw
            order = rng.permutation(len(train))
            keep, val = order[n_val:], order[:n_val]
        return np.sort(train[keep]).astype(np.int64), np.sort(train[val]).astype(np.int64)
    names = sorted(set(groups[train].tolist()), key=_natural_key)
    if len(names) < 2:  # one training speaker (a tiny corpus): no disjoint group to hold out
        return np.sort(train).astype(np.int64), empty
    chosen: list[str] = []
    count = 0
    for i in rng.permutation(len(names)):
        if count >= fraction * len(train) or len(chosen) == len(names) - 1:
            break
        chosen.append(names[i])
        count += int(np.sum(groups[train] == names[i]))
    in_val = np.isin(groups[train], chosen)
    return np.sort(train[~in_val]).astype(np.int64), np.sort(train[in_val]).astype(np.int64)


def _with_validation(folds: list[Fold], y: np.ndarray, groups: np.ndarray | None, fraction: float, seed: int) -> list[Fold]:
    out = []
    for f in folds:
        train, val = split_validation(f.train, y, groups, fraction, seed + f.index)
        out.append(Fold(f.index, train, val, f.test))
    return out


def _group_folds(groups: list[np.ndarray], speakers: np.ndarray, val: bool) -> list[Fold]:
    folds = []
    for i, test_group in enumerate(groups):
        val_group = groups[(i + 1) % len(groups)] if val else np.array([], dtype=speakers.dtype)
        test = np.isin(speakers, test_group)
        valm = np.isin(speakers, val_group)
        folds.append(Fold(i, _idx(~test & ~valm), _idx(valm), _idx(test)))
    return folds


def speaker_kfold(data: Any, *, folds: int = 5, seed: int = 0, val: bool = False,
                  val_fraction: float = DEFAULT_VAL_FRACTION) -> list[Fold]:
    y, speakers, _ = _columns(data)
    fraction = _check_val(val_fraction, "speaker")
    unique = sorted(set(speakers.tolist()), key=_natural_key)
    k = _check_int("folds", folds, 2)
    if k > len(unique) or (val and k < 3):
        raise DataError(f"speaker_kfold: folds={k} needs {'3' if val else '2'}..{len(unique)} (speakers: {len(unique)})")
    order = np.random.default_rng(seed).permutation(len(unique))
    groups = np.array_split(np.array(unique)[order], k)
    out = _group_folds(groups, speakers, bool(val))
    return out if val else _with_validation(out, y, speakers, fraction, seed)


def kumar_70_30(data: Any, *, folds: int = 10, test_size: float = 0.3, seed: int = 0,
                val_fraction: float = DEFAULT_VAL_FRACTION) -> list[Fold]:
    y, _, _ = _columns(data)
    fraction = _check_val(val_fraction, "utterance")
    splitter = StratifiedShuffleSplit(
        n_splits=_check_int("folds", folds, 1), test_size=_check_fraction("test_size", test_size), random_state=seed
    )
    return _with_validation(_sklearn_folds(splitter, y, "kumar_70_30"), y, None, fraction, seed)


def liu_random_80_20(data: Any, *, folds: int = 5, seed: int = 0, mode: str = "kfold",
                     val_fraction: float = DEFAULT_VAL_FRACTION) -> list[Fold]:
    y, _, _ = _columns(data)
    fraction = _check_val(val_fraction, "utterance")
    k = _check_int("folds", folds, 2)
    if mode == "kfold":
        splitter: Any = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    elif mode == "shuffle":
        splitter = StratifiedShuffleSplit(n_splits=k, test_size=0.2, random_state=seed)
    else:
        raise DataError(f"liu_random_80_20: mode={mode!r}; allowed: kfold, shuffle")
    return _with_validation(_sklearn_folds(splitter, y, "liu_random_80_20"), y, None, fraction, seed)


def _sklearn_folds(splitter: Any, y: np.ndarray, name: str) -> list[Fold]:
    try:
        splits = list(splitter.split(np.zeros(len(y)), y))
    except ValueError as exc:  # a class too small to stratify, too few samples
        raise DataError(f"{name}: cannot split {len(y)} utterances: {exc}") from exc
    empty = np.array([], dtype=np.int64)
    return [Fold(i, np.sort(tr).astype(np.int64), empty, np.sort(te).astype(np.int64)) for i, (tr, te) in enumerate(splits)]


# Mocanu Table 1 (rows swapped in the paper, see the digest): (first test actor, size, step, val offset).
_TABLE1 = {24: (22, 3, 2, -3), 91: (83, 9, 9, -9)}


def mocanu_actor10(data: Any, *, folds: int = 10, seed: int | None = None, scheme: str = "partition") -> list[Fold]:
    _, speakers, _ = _columns(data)
    actors = sorted(set(speakers.tolist()), key=_natural_key)
    k = _check_int("folds", folds, 3)
    if scheme == "table1":
        return _table1_folds(actors, speakers, k)
    if scheme != "partition":
        raise DataError(f"mocanu_actor10: scheme={scheme!r}; allowed: partition, table1")
    if k > len(actors):
        raise DataError(f"mocanu_actor10: folds={k} needs at least {k} actors, found {len(actors)}")
    if seed is not None:
        actors = [actors[i] for i in np.random.default_rng(seed).permutation(len(actors))]
    groups = np.array_split(np.array(actors), k)
    return _group_folds(groups, speakers, True)


def _table1_folds(actors: list[str], speakers: np.ndarray, k: int) -> list[Fold]:
    n = len(actors)
    if n not in _TABLE1 or k != 10:
        raise DataError(f"mocanu_actor10: scheme=table1 needs 24 or 91 actors and folds=10 (found {n} actors)")
    first, size, step, val_off = _TABLE1[n]
    out = []
    for i in range(k):
        test_pos = [(first - 1 + i * step + j) % n for j in range(size)]
        val_pos = [(first - 1 + val_off + i * step + j) % n for j in range(size)]
        test = np.isin(speakers, [actors[p] for p in test_pos])
        valm = np.isin(speakers, [actors[p] for p in val_pos])
        out.append(Fold(i, _idx(~test & ~valm), _idx(valm), _idx(test)))
    return out


def lian_loso(data: Any, *, val_fraction: float = DEFAULT_VAL_FRACTION, val_by: str = "speaker", seed: int = 0) -> list[Fold]:
    y, speakers, sessions = _columns(data)
    fraction = _check_val(val_fraction, val_by)
    if any(s is None for s in sessions):
        raise DataError("lian_loso: every utterance needs a session (IEMOCAP); this data has utterances without one")
    names = sorted(set(sessions), key=_natural_key)  # type: ignore[arg-type]
    if len(names) < 2:
        raise DataError(f"lian_loso: needs at least 2 sessions, found {names}")
    arr = np.array(sessions)
    empty = np.array([], dtype=np.int64)
    folds = [Fold(i, _idx(arr != s), empty, _idx(arr == s)) for i, s in enumerate(names)]
    groups = {"speaker": speakers, "session": arr, "utterance": None}[val_by]
    return _with_validation(folds, y, groups, fraction, seed)


def predefined(data: Any, *, test_split: str | None = None, val: bool = False) -> list[Fold]:
    folds, splits = _partitions(data)
    n = len(folds)
    with_fold = sum(f is not None for f in folds)
    with_split = sum(s is not None for s in splits)
    if with_fold == n and n:
        if test_split is not None:
            raise DataError("predefined: test_split applies to split names (train/val/test), but this data has fold numbers")
        return _predefined_folds(np.array(folds), bool(val))
    if with_split == n and n:
        if val:
            raise DataError("predefined: val=True applies to fold numbers; with split names the val part is the corpus's own")
        return [_predefined_split(splits, test_split)]
    raise DataError(
        f"predefined: every utterance needs a fold number or a split name; {n - max(with_fold, with_split)} of {n} "
        "have none (predefined partitions come from emobox, msppodcast, or a manifest's fold/split column)"
    )


def _predefined_folds(folds: np.ndarray, val: bool) -> list[Fold]:
    numbers = sorted(set(folds.tolist()))
    if len(numbers) < 2:
        raise DataError(f"predefined: needs at least 2 folds, found fold {numbers[0]} only")
    if val and len(numbers) < 3:
        raise DataError(f"predefined: val=True needs at least 3 folds, found {len(numbers)}")
    out = []
    empty = np.array([], dtype=np.int64)
    for i, number in enumerate(numbers):
        test = folds == number
        valm = folds == numbers[(i + 1) % len(numbers)] if val else np.zeros_like(test)
        out.append(Fold(i, _idx(~test & ~valm), _idx(valm) if val else empty, _idx(test)))
    return out


def _predefined_split(splits: list[str | None], test_split: str | None) -> Fold:
    parts = np.array([normalize_split(s or "") or "" for s in splits])
    raw = np.array([(s or "").lower() for s in splits])
    unknown = sorted({s for s, p in zip(splits, parts) if not p})  # type: ignore[misc]
    if unknown:
        raise DataError(f"predefined: unknown split name(s) {', '.join(map(repr, unknown))}")
    test = parts == "test"
    if test_split is not None:
        if not isinstance(test_split, str) or normalize_split(test_split) != "test":
            raise DataError(f"predefined: test_split={test_split!r} is not a test partition name (e.g. Test1)")
        names = sorted({s for s, p in zip(splits, parts) if p == "test"})  # type: ignore[misc]
        if test_split.lower() not in raw[test]:
            raise DataError(f"predefined: test_split={test_split!r} matches no utterance; test partitions here: {', '.join(names)}")
        test = raw == test_split.lower()
    train, valm = parts == "train", parts == "val"
    if not train.any() or not test.any():
        missing = "train" if not train.any() else "test"
        raise DataError(f"predefined: no utterance is in a {missing} partition")
    return Fold(0, _idx(train), _idx(valm), _idx(test))


PROTOCOLS: dict[str, Callable[..., list[Fold]]] = {
    "speaker_kfold": speaker_kfold,
    "kumar_70_30": kumar_70_30,
    "mocanu_actor10": mocanu_actor10,
    "liu_random_80_20": liu_random_80_20,
    "lian_loso": lian_loso,
    "predefined": predefined,
}


def protocol_names() -> list[str]:
    return list(PROTOCOLS)


def make_folds(name: str, manifest: Any, **params: Any) -> list[Fold]:
    """Folds of protocol `name` over a Manifest (or FeatureSet); bad names/params -> DataError."""
    if name not in PROTOCOLS:
        raise DataError(f"unknown protocol {name!r}; allowed: {', '.join(PROTOCOLS)}")
    fn = PROTOCOLS[name]
    allowed = [p for p in fn.__code__.co_varnames[1 : fn.__code__.co_argcount + fn.__code__.co_kwonlyargcount]]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise DataError(f"protocol {name}: unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(allowed) or 'none'}")
    return fn(manifest, **params)
