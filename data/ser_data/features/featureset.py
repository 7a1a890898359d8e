"""FeatureSet: features + labels + per-utterance columns, saved as one .npz (atomically)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ser_data.atomic import atomic_write
from ser_data.errors import DataError
from ser_data.features.sequences import split_flat

_FORMAT = 1


@dataclass
class FeatureSet:
    """Features of the usable utterances of one manifest, in manifest order.

    Fixed-size features: `x` is (N, D) and `offsets` is None. Variable-length ones: `x` is the
    flat (sum T, F) array and utterance i is `x[offsets[i]:offsets[i + 1]]`. Utterances that
    failed extraction are absent (see `problems`); `manifest_index[i]` is row i's position in the
    manifest the set was built from. `meta` columns: gender/session/intensity/statement (str,
    "" for none), valence/arousal/dominance/duration (float32, NaN for none), improvised (int8,
    -1 unknown, 0 scripted, 1 improvised).
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
        """Write atomically (ser_data.atomic): readers never see half a file."""
        path = Path(path)
        header = {
            "format": _FORMAT, "name": self.name, "params": self.params, "labels": list(self.labels),
            "problems": [list(p) for p in self.problems], "dataset": self.dataset, "key": self.key,
            "meta": sorted(self.meta),
        }  # fmt: skip
        arrays: dict[str, np.ndarray] = {
            "header": np.array(json.dumps(header)),
            "x": self.x, "y": self.y, "utt_ids": self.utt_ids, "speakers": self.speakers,
        }  # fmt: skip
        if self.offsets is not None:
            arrays["offsets"] = self.offsets
        if self.manifest_index is not None:
            arrays["manifest_index"] = self.manifest_index
        arrays.update({f"meta__{k}": v for k, v in self.meta.items()})
        atomic_write(path, lambda fh: np.savez(fh, **arrays))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "FeatureSet":
        """Reopen a saved set. A missing or damaged file raises DataError naming it."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                header = json.loads(str(z["header"]))
                data = {k: z[k] for k in z.files}
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise DataError(f"cannot read feature file {path}: {exc}") from exc
        return cls(
            name=header["name"],
            params=header["params"],
            x=data["x"],
            y=data["y"],
            labels=tuple(header["labels"]),
            utt_ids=data["utt_ids"],
            speakers=data["speakers"],
            meta={k: data[f"meta__{k}"] for k in header["meta"]},
            offsets=data.get("offsets"),
            manifest_index=data.get("manifest_index"),
            problems=[(p, r) for p, r in header["problems"]],
            dataset=header["dataset"],
            key=header["key"],
            cache_path=str(path),
        )

