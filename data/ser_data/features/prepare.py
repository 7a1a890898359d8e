"""prepare_features: extract once (optionally in 2 processes), cache, and reuse."""

from __future__ import annotations

import json
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable

import numpy as np
from librosa.util.exceptions import ParameterError

from ser_data.audio import check_signal, read_audio
from ser_data.errors import AudioFileError, DataError
from ser_data.features import extractors as _extractors  # noqa: F401  (fills the registry)
from ser_data.features.cache import cache_file, cache_key
from ser_data.atomic import atomic_write
from ser_data.features.featureset import FeatureSet
from ser_data.features.registry import get_spec
from ser_data.manifest import Manifest, Utterance

log = logging.getLogger("ser_data.features")

# Below this many utterances a process pool costs more (spawn + imports) than it saves.
POOL_MIN_UTTERANCES = 200
DEFAULT_WORKERS = 2

Progress = Callable[[int, int], None]


def _extract_one(job: tuple[str, str, str, dict[str, Any]]) -> tuple[np.ndarray | None, str | None]:
    """Worker: read, check for silence, extract. Bad audio becomes a reason, not an exception."""
    path, utt_id, name, params = job
    spec = get_spec(name)
    try:
        y = read_audio(path, params["sr"])
        check_signal(y, path)
        return spec.extract(y, params["sr"], params, utt_id), None
    except AudioFileError as err:
        return None, err.reason
    except (ValueError, RuntimeError, ParameterError) as exc:  # e.g. a clip too short for an FFT
        return None, f"feature extraction failed ({type(exc).__name__}: {exc})"


def prepare_features(
    manifest: Manifest,
    name: str,
    params: dict[str, Any] | None = None,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
    *,
    workers: int | None = None,
    force: bool = False,
) -> FeatureSet:
    """Features `name` for every utterance of `manifest`, from the cache when it has them.

    Files that fail (unreadable, silent, too short) are excluded and listed in `problems` with a
    logged summary; if none is usable, DataError. `workers`: processes for extraction (default 2
    when the manifest has at least POOL_MIN_UTTERANCES utterances, else 1). `force` recomputes.
    """
    spec = get_spec(name)
    resolved = spec.resolve(params)
    hashed = {k: v for k, v in resolved.items() if k not in spec.use_time}
    key = cache_key(manifest, name, hashed)
    if cache_dir is None:
        from ser_data.paths import user_cache_dir

        cache_dir = user_cache_dir()
    path = cache_file(cache_dir, manifest.dataset, name, key)
    if path.exists() and not force:
        try:
            fs = FeatureSet.load(path)
            fs.params, fs.from_cache = resolved, True  # use-time params may differ from the saved ones
            if progress:
                progress(len(manifest), len(manifest))
            return fs
        except DataError as err:
            log.warning("ignoring damaged cache file, recomputing: %s", err)

    results = _run(manifest.utterances, name, hashed, progress, workers)
    fs = _assemble(manifest, name, resolved, key, spec.variable_length, results)
    fs.save(path)
    _write_sidecar(path, fs)
    fs.cache_path = str(path)
    if fs.problems:
        log.warning("%s", fs.problem_summary())
    return fs


def _run(
    utts: list[Utterance], name: str, params: dict[str, Any], progress: Progress | None, workers: int | None
) -> list[tuple[np.ndarray | None, str | None]]:
    jobs = [(u.path, u.utt_id, name, params) for u in utts]
    total = len(jobs)
    n_workers = workers if workers is not None else (DEFAULT_WORKERS if total >= POOL_MIN_UTTERANCES else 1)
    if progress:
        progress(0, total)
    out: list[tuple[np.ndarray | None, str | None]] = []
    if n_workers <= 1:
        for job in jobs:
            out.append(_extract_one(job))
            if progress:
                progress(len(out), total)
        return out
    # spawn, not fork: the caller may hold torch/Ray threads, which fork can deadlock.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx) as pool:
        for result in pool.map(_extract_one, jobs, chunksize=max(1, min(16, total // (4 * n_workers)))):
            out.append(result)
            if progress:
                progress(len(out), total)
    return out


def _assemble(
    manifest: Manifest, name: str, params: dict[str, Any], key: str, variable: bool,
    results: list[tuple[np.ndarray | None, str | None]],
) -> FeatureSet:  # fmt: skip
    keep = [i for i, (arr, _) in enumerate(results) if arr is not None]
    problems = [(manifest.utterances[i].path, r) for i, (a, r) in enumerate(results) if a is None and r]
    if not keep:
        first = f"; first: {problems[0][0]}: {problems[0][1]}" if problems else ""
        raise DataError(f"feature {name}: no utterance of {manifest.dataset} at {manifest.root} could be used{first}")
    arrays = [results[i][0] for i in keep]
    utts = [manifest.utterances[i] for i in keep]
    if variable:
        lengths = np.array([len(a) for a in arrays], dtype=np.int64)  # type: ignore[arg-type]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        x = np.concatenate(arrays, axis=0).astype(np.float32)  # type: ignore[arg-type]
    else:
        offsets, x = None, np.stack(arrays).astype(np.float32)  # type: ignore[arg-type]
    label_index = {lab: i for i, lab in enumerate(manifest.labels)}
    return FeatureSet(
        name=name,
        params=params,
        x=x,
        y=np.array([label_index[u.emotion] for u in utts], dtype=np.int64),
        labels=tuple(manifest.labels),
        utt_ids=np.array([u.utt_id for u in utts]),
        speakers=np.array([u.speaker for u in utts]),
        meta=_meta(utts),
        offsets=offsets,
        manifest_index=np.array(keep, dtype=np.int64),
        problems=problems,
        dataset=manifest.dataset,
        key=key,
    )


def _meta(utts: list[Utterance]) -> dict[str, np.ndarray]:
    def text(v: str | None) -> str:
        return "" if v is None else v

    def num(v: float | None) -> float:
        return np.nan if v is None else v

    return {
        "gender": np.array([u.gender for u in utts]),
        "session": np.array([text(u.session) for u in utts]),
        "intensity": np.array([text(u.intensity) for u in utts]),
        "statement": np.array([text(u.statement) for u in utts]),
        "valence": np.array([num(u.valence) for u in utts], dtype=np.float32),
        "arousal": np.array([num(u.arousal) for u in utts], dtype=np.float32),
        "dominance": np.array([num(u.dominance) for u in utts], dtype=np.float32),
        "duration": np.array([u.duration for u in utts], dtype=np.float32),
        "improvised": np.array([-1 if u.improvised is None else int(u.improvised) for u in utts], dtype=np.int8),
    }


def _write_sidecar(path: Path, fs: FeatureSet) -> None:
    info = {
        "feature": fs.name, "dataset": fs.dataset, "key": fs.key, "params": fs.params,
        "utterances": len(fs), "excluded": len(fs.problems), "x_shape": list(fs.x.shape),
        "labels": list(fs.labels), "counts": np.bincount(fs.y, minlength=len(fs.labels)).tolist(),
        "problems": [list(p) for p in fs.problems],
    }  # fmt: skip
    sidecar = path.with_suffix(".json")
    atomic_write(sidecar, lambda fh: fh.write(json.dumps(info, indent=2).encode()))
