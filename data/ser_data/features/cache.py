"""Cache keys and locations for prepared features."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ser_data.features.registry import FEATURE_CODE_VERSION
from ser_data.manifest import Manifest


def cache_key(manifest: Manifest, feature: str, params: dict[str, Any]) -> str:
    """sha256 over dataset, absolute root, every file (relative path, size, mtime_ns) with its
    labels/metadata, label set and filters, feature name, extraction params and code version."""
    root = os.path.abspath(manifest.root)
    files = []
    for u in manifest.utterances:
        try:
            st = os.stat(u.path)
            size, mtime = st.st_size, st.st_mtime_ns
        except OSError:
            size, mtime = -1, -1
        row = dataclasses.asdict(u)
        row.pop("path")
        row.pop("duration")  # derived from the file, which size/mtime already cover
        files.append([os.path.relpath(u.path, root), size, mtime, row])
    files.sort(key=lambda r: r[0])
    payload = {
        "dataset": manifest.dataset, "root": root, "files": files, "labels": list(manifest.labels),
        "label_set": manifest.label_set, "filters": manifest.filters, "feature": feature,
        "params": params, "version": FEATURE_CODE_VERSION,
    }  # fmt: skip
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def cache_folder(cache_dir: str | Path, dataset: str, feature: str, key: str) -> Path:
    """`<cache_dir>/features/<dataset>/<feature>-<key16>` (a folder, see store.py). Beside it while
    building: `<...>.lock` (the builder's lock) and `<...>.partial/` (finished chunks, resumable)."""
    return Path(cache_dir) / "features" / dataset / f"{feature}-{key[:16]}"
