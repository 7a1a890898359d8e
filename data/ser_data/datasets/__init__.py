"""Corpus loaders: `load_manifest(name, root, ...)` turns a corpus folder into a `Manifest`.

Each loader opens only file headers (soundfile.info) when `check_audio=True`, to fill
`duration` and exclude unreadable or zero-length files into `Manifest.problems`. Whether a file
is silent needs its samples, so that is found during feature extraction and recorded in the
FeatureSet's problems instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ser_data.datasets import cremad, iemocap, ravdess
from ser_data.errors import DataError
from ser_data.manifest import Manifest

Loader = Callable[..., Manifest]

_LOADERS: dict[str, Loader] = {
    ravdess.NAME: ravdess.load,
    cremad.NAME: cremad.load,
    iemocap.NAME: iemocap.load,
}


def dataset_names() -> list[str]:
    """Names accepted by `load_manifest`."""
    return sorted(_LOADERS)


def register_dataset(name: str, loader: Loader) -> None:
    """Add a loader (e.g. the synthetic corpus) with the same keyword signature as the others."""
    _LOADERS[name] = loader


def load_manifest(
    name: str,
    root: str | Path,
    *,
    label_set: str | None = None,
    improvised_only: bool | None = None,
    check_audio: bool = True,
) -> Manifest:
    """Load one corpus. Unknown names, bad roots/layouts and empty corpora raise DataError."""
    if name not in _LOADERS:
        raise DataError(f"unknown dataset {name!r}; allowed: {', '.join(dataset_names())}")
    return _LOADERS[name](root, label_set=label_set, improvised_only=improvised_only, check_audio=check_audio)


__all__ = ["dataset_names", "load_manifest", "register_dataset"]
