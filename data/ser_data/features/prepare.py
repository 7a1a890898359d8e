"""prepare_features: build a feature cache once (parallel, chunked, resumable, locked) and reuse it.

A build splits the manifest into chunks (size fixed by the utterance count, so a rerun with
another worker count reuses the same chunks). Workers write `<cache>.partial/chunks/chunk-*.npz`
as they finish; the parent then streams them, in order, into the cache folder's x.npy (one chunk
in memory at a time) and renames the folder into place. An interrupted build (Ctrl-C, SIGKILL)
keeps its finished chunks and the next call continues from them. A damaged cache is reported in
one warning, moved aside to `<cache>.damaged-<time>` and rebuilt. Two processes asking for the
same cache build it once: the second waits on the lock and then reuses the result.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ser_data.atomic import atomic_dir, atomic_write_text
from ser_data.errors import DataError
from ser_data.features.build import ChunkTask, build_chunk, chunk_name, read_chunk_x, read_summary
from ser_data.features.cache import cache_folder, cache_key
from ser_data.features.featureset import FeatureSet, header_fields, write_columns
from ser_data.features.lock import BuildLock
from ser_data.pool import Mapper, available_cpus, process_pool_mapper
from ser_data.features.registry import get_spec
from ser_data.features.store import FORMAT, FeatureCacheError, FolderWriter, check_files, read_header
from ser_data.manifest import Manifest, Utterance

log = logging.getLogger("ser_data.features")

# Below this many utterances a process pool costs more (spawn + imports) than it saves.
POOL_MIN_UTTERANCES = 200
MAX_CHUNK = 64  # utterances per chunk: small enough to resume finely, large enough for few files

Progress = Callable[[int, int], None]


def default_chunk_size(n: int) -> int:
    """Depends on the utterance count only (not on workers), so any rerun finds the same chunks."""
    return min(MAX_CHUNK, max(1, -(-n // 32)))


def prepare_features(
    manifest: Manifest,
    name: str,
    params: dict[str, Any] | None = None,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
    *,
    workers: int | None = None,
    mapper: Mapper | None = None,
    force: bool = False,
    chunk_size: int | None = None,
) -> FeatureSet:
    """Features `name` for every utterance of `manifest`, from the cache when it has them.

    Files that fail (unreadable, too short, silent, NaN) are excluded and listed in `problems`
    with a logged summary; if none is usable, DataError. `workers`: local processes (default:
    the CPUs of this process when the manifest has at least POOL_MIN_UTTERANCES utterances, else
    1). `mapper(fn, items)`: run the chunk tasks elsewhere instead (e.g. Ray tasks; results in
    any order). `force` rebuilds. `progress(done, total)` counts utterances.
    """
    spec = get_spec(name)
    resolved = spec.resolve(params)
    hashed = {k: v for k, v in resolved.items() if k not in spec.use_time}
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise DataError(f"workers={workers!r}: allowed values are integers >= 1")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
        raise DataError(f"chunk_size={chunk_size!r}: allowed values are integers >= 1")
    key = cache_key(manifest, name, hashed)
    if cache_dir is None:
        from ser_data.paths import user_cache_dir

        cache_dir = user_cache_dir()
    folder = cache_folder(cache_dir, manifest.dataset, name, key)
    total = len(manifest)
    if not force:
        found = _reuse(folder, resolved, quarantine=False)  # no lock needed to read a good cache
        if found is not None:
            _report(progress, total, total)
            return found
    with BuildLock(folder.with_name(folder.name + ".lock")):
        if not force:
            found = _reuse(folder, resolved, quarantine=True)  # built (or found damaged) meanwhile?
            if found is not None:
                _report(progress, total, total)
                return found
        n_workers = workers if workers is not None else (available_cpus() if total >= POOL_MIN_UTTERANCES else 1)
        run = mapper or process_pool_mapper(n_workers)
        _replace_old(folder, lambda: _build(folder, manifest, name, resolved, hashed, key, run,
                                            chunk_size or default_chunk_size(total), progress))  # fmt: skip
    fs = FeatureSet.load(folder)
    fs.params, fs.from_cache = resolved, False
    if fs.problems:
        log.warning("%s", fs.problem_summary())
    return fs


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress:
        progress(done, total)


def _reuse(folder: Path, resolved: dict[str, Any], *, quarantine: bool) -> FeatureSet | None:
    if not folder.exists():
        return None
    try:
        check_files(folder, read_header(folder), deep=True)
        fs = FeatureSet.load(folder)
    except FeatureCacheError as err:
        if quarantine:
            _move_aside(folder, err.reason)
        return None
    fs.params, fs.from_cache = resolved, True  # use-time params may differ from the saved ones
    return fs


def _move_aside(folder: Path, reason: str) -> None:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = folder.with_name(f"{folder.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = folder.with_name(f"{folder.name}.damaged-{stamp}-{n}")
    os.rename(folder, target)
    log.warning("feature cache %s is damaged (%s); moved it to %s and rebuilding", folder, reason, target.name)


def _replace_old(folder: Path, build: Callable[[], None]) -> None:
    """Build; a cache already at `folder` (force) is swapped out only when the new one is done."""
    if not folder.exists():
        build()
        return
    old = folder.with_name(f".{folder.name}.replaced-{os.getpid()}")
    os.rename(folder, old)  # open memory maps of running readers stay valid
    try:
        build()
    except BaseException:
        if not folder.exists():
            os.rename(old, folder)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _build(folder: Path, manifest: Manifest, name: str, resolved: dict[str, Any], hashed: dict[str, Any],
           key: str, run: Mapper, size: int, progress: Progress | None) -> None:  # fmt: skip
    partial = folder.with_name(folder.name + ".partial")
    chunks = partial / "chunks"
    plan = {"format": FORMAT, "key": key, "feature": name, "utterances": len(manifest), "chunk_size": size}
    plan_file = partial / "build.json"
    if plan_file.is_file():
        try:
            same = json.loads(plan_file.read_text()) == plan
        except (OSError, ValueError):
            same = False
        if not same:  # another chunking of the same cache: its chunks do not fit
            shutil.rmtree(partial, ignore_errors=True)
    chunks.mkdir(parents=True, exist_ok=True)
    atomic_write_text(plan_file, json.dumps(plan) + "\n")
    for stale in chunks.glob(".*.tmp"):  # a write cut short by a kill; never a finished chunk
        stale.unlink(missing_ok=True)
    utts = manifest.utterances
    tasks = [
        ChunkTask(i // size, str(chunks / chunk_name(i // size)), name, hashed,
                  tuple((u.path, u.utt_id) for u in utts[i : i + size]))
        for i in range(0, len(utts), size)
    ]  # fmt: skip
    summaries: dict[int, dict[str, Any]] = {}
    for task in tasks:
        found = read_summary(task)
        if found is not None:
            summaries[task.index] = found
    done = sum(len(tasks[i].items) for i in summaries)
    if summaries:
        log.info("feature build %s: resuming with %d of %d chunks done", folder.name, len(summaries), len(tasks))
    _report(progress, done, len(utts))
    pending = [t for t in tasks if t.index not in summaries]
    for result in run(build_chunk, pending) if pending else ():
        summaries[result["index"]] = result
        done += len(tasks[result["index"]].items)
        _report(progress, done, len(utts))
    _assemble(folder, manifest, name, resolved, key, tasks, summaries, run)
    shutil.rmtree(partial, ignore_errors=True)


def _assemble(folder: Path, manifest: Manifest, name: str, resolved: dict[str, Any], key: str,
              tasks: list[ChunkTask], summaries: dict[int, dict[str, Any]], run: Mapper) -> None:  # fmt: skip
    """Stream the chunks into the cache folder, in manifest order, one chunk in memory at a time."""
    lengths = [n for t in tasks for n in summaries[t.index]["lengths"]]
    reasons = [r for t in tasks for r in summaries[t.index]["reasons"]]
    keep = [i for i, n in enumerate(lengths) if n >= 0]
    problems = [(manifest.utterances[i].path, str(reasons[i])) for i, n in enumerate(lengths) if n < 0]
    if not keep:
        first = f"; first: {problems[0][0]}: {problems[0][1]}" if problems else ""
        raise DataError(f"feature {name}: no utterance of {manifest.dataset} at {manifest.root} could be used{first}")
    shapes = {tuple(s["item_shape"]) for s in summaries.values() if s["item_shape"] is not None}
    if len(shapes) != 1:
        raise DataError(f"feature {name}: chunks disagree on the feature shape ({sorted(shapes)}); rebuild with force=True")
    item_shape = shapes.pop()
    variable = get_spec(name).variable_length
    if variable:
        offsets = np.concatenate([[0], np.cumsum([lengths[i] for i in keep])]).astype(np.int64)
        shape = (int(offsets[-1]), *item_shape)
    else:
        offsets, shape = None, (len(keep), *item_shape)
    kept = [manifest.utterances[i] for i in keep]
    label_index = {lab: i for i, lab in enumerate(manifest.labels)}
    columns = FeatureSet(
        name=name, params=resolved, x=np.zeros((0,), np.float32),
        y=np.array([label_index[u.emotion] for u in kept], dtype=np.int64), labels=tuple(manifest.labels),
        utt_ids=np.array([u.utt_id for u in kept], dtype=str), speakers=np.array([u.speaker for u in kept], dtype=str),
        meta=_meta(kept), offsets=offsets, manifest_index=np.array(keep, dtype=np.int64), problems=problems,
        dataset=manifest.dataset, key=key,
    )  # fmt: skip
    with atomic_dir(folder) as tmp:
        writer = FolderWriter(tmp)
        writer.stream("x", np.float32, shape, _chunk_arrays(tasks, summaries, run))
        write_columns(writer, columns)
        writer.finish(header_fields(columns))


def _chunk_arrays(tasks: list[ChunkTask], summaries: dict[int, dict[str, Any]], run: Mapper):  # type: ignore[no-untyped-def]
    for task in tasks:
        lengths = summaries[task.index]["lengths"]
        rows = sum(n for n in lengths if n >= 0)
        if rows == 0:
            continue
        x = _read_checked(task, rows)
        if x is None:
            # Damaged after it was written (disk, a copy cut short): recompute this chunk once.
            log.warning("feature chunk %s is damaged; recomputing it", task.path)
            Path(task.path).unlink(missing_ok=True)
            redo = list(run(build_chunk, [task]))[0]
            x = _read_checked(task, rows) if redo["lengths"] == lengths else None
            if x is None:
                raise DataError(f"feature chunk {task.path} cannot be rebuilt consistently; remove "
                                f"{Path(task.path).parent.parent} and try again")
        yield x


def _read_checked(task: ChunkTask, rows: int) -> np.ndarray | None:
    try:
        x = read_chunk_x(task.path)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    return x if x.shape[0] == rows else None


def _meta(utts: list[Utterance]) -> dict[str, np.ndarray]:
    def text(v: str | None) -> str:
        return "" if v is None else v

    def num(v: float | None) -> float:
        return np.nan if v is None else v

    return {
        "gender": np.array([u.gender for u in utts], dtype=str),
        "session": np.array([text(u.session) for u in utts], dtype=str),
        "intensity": np.array([text(u.intensity) for u in utts], dtype=str),
        "statement": np.array([text(u.statement) for u in utts], dtype=str),
        "split": np.array([text(u.split) for u in utts], dtype=str),
        "valence": np.array([num(u.valence) for u in utts], dtype=np.float32),
        "arousal": np.array([num(u.arousal) for u in utts], dtype=np.float32),
        "dominance": np.array([num(u.dominance) for u in utts], dtype=np.float32),
        "duration": np.array([u.duration for u in utts], dtype=np.float32),
        "improvised": np.array([-1 if u.improvised is None else int(u.improvised) for u in utts], dtype=np.int8),
        "fold": np.array([-1 if u.fold is None else u.fold for u in utts], dtype=np.int32),
    }
