"""FeatureSet: features + labels + per-utterance columns, stored as a cache folder (see store.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ser_data.atomic import atomic_dir
from ser_data.errors import DataError
from ser_data.features.sequences import split_flat
from ser_data.features.store import FeatureCacheError, FolderWriter, check_files, load_array, read_header


@dataclass
class FeatureSet:
    """Features of the usable utterances of one manifest, in manifest order.

    Fixed-size features: `x` is (N, D) and `offsets` is None. Variable-length ones: `x` is the
    flat (sum T, F) array and utterance i is `x[offsets[i]:offsets[i + 1]]`. A loaded set's `x`
    is a read-only memory map: index it (`x[rows]`, `select(rows)`) instead of copying it whole.
    Utterances that failed extraction are absent (see `problems`); `manifest_index[i]` is row i's
    position in the manifest the set was built from. `meta` columns: gender/session/intensity/
    statement/split (str, "" for none), valence/arousal/dominance/duration (float32, NaN for
    none), improvised (int8, -1 unknown, 0 scripted, 1 improvised), fold (int32, -1 none).
    """

    name: str
    params: dict[str, Any]
    x: np.ndarray
    y: np.ndarray
    labels: tuple[str, ...]
    utt_ids: np.ndarray
    speakers: np.ndarray
    meta: dict[str, np.ndarray]
    offsets: np.ndarray | None = None
    manifest_index: np.ndarray | None = None
    problems: list[tuple[str, str]] = field(default_factory=list)
    dataset: str = ""
    key: str = ""
    cache_path: str | None = None
    from_cache: bool = False  # set by prepare_features; not saved

    def __len__(self) -> int:
        return len(self.y)

    @property
    def is_variable(self) -> bool:
        return self.offsets is not None

    def item(self, i: int) -> np.ndarray:
        """Utterance i's features: a vector, or its (T, F) sequence."""
        if self.offsets is None:
            return self.x[i]
        return self.x[self.offsets[i] : self.offsets[i + 1]]

    def sequences(self) -> list[np.ndarray]:
        """Every utterance's (T, F) sequence (views into `x`)."""
        if self.offsets is None:
            raise DataError(f"feature {self.name} is fixed-size; use x directly")
        return split_flat(self.x, self.offsets)

    def select(self, rows: np.ndarray | list[int]) -> "FeatureSet":
        """A new in-memory set with only `rows` (e.g. one fold's train part), in that order.

        Reads just those rows from a memory-mapped cache, so a trial holds its fold's data only.
        """
        rows = np.asarray(rows, dtype=np.int64)
        if self.offsets is None:
            starts, lengths, offsets = rows, np.ones(len(rows), np.int64), None
        else:
            starts = np.asarray(self.offsets[rows], dtype=np.int64)
            lengths = (self.offsets[rows + 1] - self.offsets[rows]).astype(np.int64)
            offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        x = np.empty((int(lengths.sum()),) + tuple(self.x.shape[1:]), dtype=np.float32)
        _gather(self.x, _runs(starts, lengths), x)
        return FeatureSet(
            name=self.name, params=dict(self.params), x=x, y=np.array(self.y[rows]), labels=self.labels,
            utt_ids=np.array(self.utt_ids[rows]), speakers=np.array(self.speakers[rows]),
            meta={k: np.array(v[rows]) for k, v in self.meta.items()}, offsets=offsets,
            manifest_index=None if self.manifest_index is None else np.array(self.manifest_index[rows]),
            problems=list(self.problems), dataset=self.dataset, key=self.key, cache_path=self.cache_path,
        )  # fmt: skip

    def rows_for(self, manifest_indices: np.ndarray) -> np.ndarray:
        """Rows of this set for manifest indices (e.g. a Fold built on the manifest); excluded
        utterances are dropped."""
        index = self.manifest_index if self.manifest_index is not None else np.arange(len(self))
        lookup = {int(m): r for r, m in enumerate(index)}
        return np.array([lookup[int(i)] for i in manifest_indices if int(i) in lookup], dtype=np.int64)

    def problem_summary(self, limit: int = 5) -> str:
        if not self.problems:
            return f"{self.name}: {len(self)} utterances, no problems"
        lines = [f"{self.name}: {len(self)} utterances, {len(self.problems)} excluded:"]
        lines += [f"  {p}: {r}" for p, r in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"  ... and {len(self.problems) - limit} more")
        return "\n".join(lines)

    def save(self, path: str | Path) -> Path:
        """Write as a cache folder, atomically (readers never see half of it)."""
        path = Path(path)
        with atomic_dir(path) as tmp:
            writer = FolderWriter(tmp)
            writer.array("x", np.asarray(self.x, dtype=np.float32))
            write_columns(writer, self)
            writer.finish(header_fields(self))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "FeatureSet":
        """Reopen a saved set, `x` memory-mapped. A missing, damaged or old-format cache raises
        FeatureCacheError (a DataError) naming the folder and the bad piece."""
        folder = Path(path)
        header = read_header(folder)
        check_files(folder, header)
        try:
            fs = cls(
                name=header["name"], params=header["params"], x=load_array(folder, "x", mmap=True),
                y=load_array(folder, "y"), labels=tuple(header["labels"]),
                utt_ids=load_array(folder, "utt_ids"), speakers=load_array(folder, "speakers"),
                meta={k: load_array(folder, f"meta__{k}") for k in header["meta"]},
                offsets=load_array(folder, "offsets") if header["variable"] else None,
                manifest_index=load_array(folder, "manifest_index"),
                problems=[(p, r) for p, r in header["problems"]], dataset=header["dataset"],
                key=header["key"], cache_path=str(folder),
            )  # fmt: skip
        except KeyError as exc:
            raise FeatureCacheError(folder, f"header.json lacks {exc}") from exc
        _check_consistent(folder, fs)
        return fs


def _runs(starts: np.ndarray, lengths: np.ndarray) -> list[tuple[int, int]]:
    """(start, count) row blocks, adjacent ones merged (consecutive rows are one read)."""
    out: list[tuple[int, int]] = []
    for start, n in zip(starts.tolist(), lengths.tolist()):
        if out and out[-1][0] + out[-1][1] == start:
            out[-1] = (out[-1][0], out[-1][1] + n)
        else:
            out.append((start, n))
    return out


def _gather(x: np.ndarray, blocks: list[tuple[int, int]], out: np.ndarray) -> None:
    """Copy row blocks of `x` into `out` in order. From a memory-mapped cache the blocks are read
    with preadv, so the caller's resident memory holds the copy only and not the map's pages."""
    filename = getattr(x, "filename", None)
    if isinstance(x, np.memmap) and filename and x.flags.c_contiguous and hasattr(os, "preadv") and x.dtype == out.dtype:
        row_bytes = int(np.prod(x.shape[1:], dtype=np.int64)) * x.dtype.itemsize
        buf = memoryview(out.reshape(-1).view(np.uint8))
        at = 0
        with open(filename, "rb", buffering=0) as fh:
            for start, n in blocks:
                want, got = n * row_bytes, 0
                while got < want:
                    k = os.preadv(fh.fileno(), [buf[at + got : at + want]], x.offset + start * row_bytes + got)
                    if k <= 0:
                        raise FeatureCacheError(Path(filename).parent, f"{Path(filename).name} ended early")
                    got += k
                at += want
        return
    at = 0
    for start, n in blocks:
        out[at : at + n] = x[start : start + n]
        at += n


def header_fields(fs: FeatureSet) -> dict[str, Any]:
    """Everything header.json holds besides the file table (FolderWriter adds that)."""
    return {
        "name": fs.name, "params": fs.params, "labels": list(fs.labels), "dataset": fs.dataset,
        "key": fs.key, "meta": sorted(fs.meta), "variable": fs.offsets is not None, "utterances": len(fs),
        "counts": np.bincount(np.asarray(fs.y), minlength=len(fs.labels)).tolist(),
        "problems": [list(p) for p in fs.problems],
    }  # fmt: skip


def write_columns(writer: FolderWriter, fs: FeatureSet) -> None:
    """Every array but x (all are one entry per utterance, small next to x)."""
    writer.array("y", np.asarray(fs.y, dtype=np.int64))
    writer.array("utt_ids", np.asarray(fs.utt_ids, dtype=str))
    writer.array("speakers", np.asarray(fs.speakers, dtype=str))
    index = fs.manifest_index if fs.manifest_index is not None else np.arange(len(fs))
    writer.array("manifest_index", np.asarray(index, dtype=np.int64))
    if fs.offsets is not None:
        writer.array("offsets", np.asarray(fs.offsets, dtype=np.int64))
    for name, column in sorted(fs.meta.items()):
        writer.array(f"meta__{name}", np.asarray(column))


def _check_consistent(folder: Path, fs: FeatureSet) -> None:
    n = len(fs.y)
    columns = {"utt_ids": fs.utt_ids, "speakers": fs.speakers, "manifest_index": fs.manifest_index}
    columns.update({f"meta__{k}": v for k, v in fs.meta.items()})
    for name, column in columns.items():
        if column is not None and len(column) != n:
            raise FeatureCacheError(folder, f"{name}.npy has {len(column)} rows, y.npy {n}")
    if fs.offsets is None:
        if fs.x.shape[0] != n:
            raise FeatureCacheError(folder, f"x.npy has {fs.x.shape[0]} rows, y.npy {n}")
    elif len(fs.offsets) != n + 1 or (n and (fs.offsets[0] != 0 or fs.offsets[-1] != fs.x.shape[0])):
        raise FeatureCacheError(folder, f"offsets.npy does not span x.npy ({len(fs.offsets)} offsets, {fs.x.shape[0]} frames)")
    if n and (int(np.min(fs.y)) < 0 or int(np.max(fs.y)) >= len(fs.labels)):
        raise FeatureCacheError(folder, f"y.npy has class ids outside 0..{len(fs.labels) - 1}")
