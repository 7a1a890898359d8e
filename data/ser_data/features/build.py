"""The unit of a feature build: one chunk of utterances -> one chunk file.

A worker (local process, Ray task, or this process) extracts its chunk and writes
`chunk-<index>.npz` atomically itself, returning only a small summary, so results never travel
through the parent in bulk and a finished chunk survives any interruption of the build.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from librosa.util.exceptions import ParameterError

from ser_data.atomic import atomic_write
from ser_data.audio import check_signal, read_audio
from ser_data.errors import AudioFileError
from ser_data.features import extractors as _extractors  # noqa: F401  (fills the registry)
from ser_data.features.registry import get_spec


@dataclass(frozen=True)
class ChunkTask:
    index: int
    path: str  # the chunk file this task writes
    feature: str
    params: dict[str, Any]
    items: tuple[tuple[str, str], ...]  # (audio path, utt_id)


def chunk_name(index: int) -> str:
    return f"chunk-{index:06d}.npz"


def _extract_one(job: tuple[str, str, str, dict[str, Any]]) -> tuple[np.ndarray | None, str | None]:
    """Read, check (too short, NaN, silent), extract. Bad audio becomes a reason, not an exception."""
    path, utt_id, name, params = job
    spec = get_spec(name)
    try:
        y = read_audio(path, params["sr"])
        check_signal(y, path, sr=params["sr"])
        return spec.extract(y, params["sr"], params, utt_id), None
    except AudioFileError as err:
        return None, err.reason
    except (ValueError, RuntimeError, ParameterError) as exc:  # e.g. a clip too short for an FFT
        return None, f"feature extraction failed ({type(exc).__name__}: {exc})"


def build_chunk(task: ChunkTask) -> dict[str, Any]:
    """Extract every utterance of the chunk, write the chunk file, return its summary."""
    arrays: list[np.ndarray] = []
    lengths: list[int] = []
    reasons: list[str | None] = []
    variable = get_spec(task.feature).variable_length
    for path, utt_id in task.items:
        arr, reason = _extract_one((path, utt_id, task.feature, task.params))
        if arr is None:
            lengths.append(-1)
            reasons.append(reason or "feature extraction failed")
            continue
        arr = np.asarray(arr, dtype=np.float32)
        arrays.append(arr)
        lengths.append(int(arr.shape[0]) if variable else 1)
        reasons.append(None)
    if arrays:
        x = np.concatenate(arrays, axis=0) if variable else np.stack(arrays)
    else:
        x = np.zeros((0,), np.float32)
    utt_ids = np.array([u for _, u in task.items], dtype=str)
    payload = {"x": x, "lengths": np.array(lengths, np.int64), "utt_ids": utt_ids,
               "reasons": np.array(json.dumps(reasons))}  # fmt: skip
    atomic_write(task.path, lambda fh: np.savez(fh, **payload))
    return summary(task.index, lengths, reasons, x.shape[1:] if arrays else None)


def summary(index: int, lengths: list[int], reasons: list[str | None], item_shape: tuple[int, ...] | None) -> dict[str, Any]:
    return {"index": index, "lengths": lengths, "reasons": reasons,
            "item_shape": None if item_shape is None else list(item_shape)}  # fmt: skip


def read_summary(task: ChunkTask) -> dict[str, Any] | None:
    """The summary of an existing chunk file for this task, None if absent, stale or unreadable.

    Reads the small members only; x's data (and CRC) is read when the cache is assembled.
    """
    path = Path(task.path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if z["utt_ids"].tolist() != [u for _, u in task.items]:
                return None
            lengths = z["lengths"].tolist()
            reasons = json.loads(str(z["reasons"]))
        with zipfile.ZipFile(path) as zf, zf.open("x.npy") as fh:
            version = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, _ = read(fh)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError):
        return None
    ok = any(n >= 0 for n in lengths)
    return summary(task.index, lengths, reasons, tuple(shape[1:]) if ok else None)


def read_chunk_x(path: str | Path) -> np.ndarray:
    """A chunk's features; zipfile checks the CRC while reading (BadZipFile when damaged)."""
    with np.load(path, allow_pickle=False) as z:
        return z["x"]
