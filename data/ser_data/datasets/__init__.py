"""Corpus loaders: `load_manifest(name, root, check_audio=..., **options)` -> `Manifest`.

Each loader declares its options (name, kind, default, allowed values) in its module's OPTIONS;
every loader also takes `labels` (rename/merge/drop) and `classes` (class order), see
ser_data.labels. `dataset_options(name)` lists them so a grid's `dataset:` section can be
checked (`check_dataset_options`) before anything runs.

`check_audio`: "header" (True; soundfile headers: unreadable, empty and too-short files become
problems), "signal" (also decodes the samples: silent and NaN files become problems), "none"
(False; nothing opened). Without "signal", silence is found when features are built;
`Manifest.audio_check_note()` says which check ran.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ser_data.datasets import cremad, emobox, emodb, iemocap, manifest_file, msppodcast, ravdess, savee, tess
from ser_data.datasets.options import COMMON, Option, check_options
from ser_data.datasets.roots import read_roots_config, resolve_root
from ser_data.errors import DataError
from ser_data.labels import LabelPolicy
from ser_data.manifest import AUDIO_CHECKS, Manifest

Loader = Callable[..., Manifest]


@dataclass(frozen=True)
class DatasetSpec:
    """A registered loader. `labels_inline`: it applies dataset.labels/classes itself, per row
    (list-file loaders, so errors can name the line); otherwise load_manifest applies them."""

    name: str
    load: Loader
    options: tuple[Option, ...] = ()
    labels_inline: bool = False

    def all_options(self) -> tuple[Option, ...]:
        return tuple(self.options) + COMMON


_SPECS: dict[str, DatasetSpec] = {}


def register_dataset(name: str, loader: Loader, options: Sequence[Option] = (), *, labels_inline: bool = False) -> None:
    """Add a loader `loader(root, *, check_audio: str, **options) -> Manifest` with its options."""
    _SPECS[name] = DatasetSpec(name, loader, tuple(options), labels_inline)


for _module in (ravdess, cremad, iemocap, emodb, tess, savee, msppodcast):
    register_dataset(_module.NAME, _module.load, _module.OPTIONS)
for _module in (manifest_file, emobox):
    register_dataset(_module.NAME, _module.load, _module.OPTIONS, labels_inline=True)


def dataset_names() -> list[str]:
    """Names accepted by `load_manifest`."""
    return sorted(_SPECS)


def _spec(name: str) -> DatasetSpec:
    if name not in _SPECS:
        raise DataError(f"unknown dataset {name!r}; allowed: {', '.join(dataset_names())}")
    return _SPECS[name]


def dataset_options(name: str) -> dict[str, Option]:
    """Options of dataset `name` (its own and the common `labels`, `classes`), by name."""
    return {o.name: o for o in _spec(name).all_options()}


def check_dataset_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Every option of `name` resolved (defaults filled in); DataError naming `dataset.<option>`
    for an unknown option or a bad value. None counts as not given."""
    offered: dict[str, list[str]] = {}
    for spec in _SPECS.values():
        for option in spec.all_options():
            offered.setdefault(option.name, []).append(spec.name)
    return check_options(name, _spec(name).all_options(), options, offered)


def load_manifest(name: str, root: str | Path, *, check_audio: bool | str = True, **options: Any) -> Manifest:
    """Load one corpus. Unknown names/options, bad roots/layouts and empty corpora raise DataError."""
    spec = _spec(name)
    resolved = check_dataset_options(name, options)
    mode = _audio_mode(check_audio)
    policy = LabelPolicy(name, resolved.pop("labels"), resolved.pop("classes"))
    if spec.labels_inline:
        manifest = spec.load(root, check_audio=mode, labels=policy.mapping or None, classes=policy.classes, **resolved)
    else:
        manifest = _apply_labels(spec.load(root, check_audio=mode, **resolved), policy)
    manifest.audio_check = mode
    return manifest


def _audio_mode(check_audio: bool | str) -> str:
    if check_audio is True:
        return "header"
    if check_audio is False:
        return "none"
    if isinstance(check_audio, str) and check_audio in AUDIO_CHECKS:
        return check_audio
    raise DataError(f"check_audio={check_audio!r}; allowed: True, False, {', '.join(AUDIO_CHECKS)}")


def _apply_labels(manifest: Manifest, policy: LabelPolicy) -> Manifest:
    """dataset.labels / dataset.classes on a loader with a fixed label set."""
    if not policy.active:
        return manifest
    policy.check_keys(manifest.labels)
    kept = []
    for utt in manifest.utterances:
        emotion = policy.apply(utt.emotion, f"dataset {manifest.dataset} (utterance {utt.utt_id})")
        if emotion is not None:
            kept.append(utt if emotion == utt.emotion else replace(utt, emotion=emotion))
    if not kept:
        raise DataError(f"{manifest.dataset}: no utterances left under {manifest.root} after dataset.labels")
    return replace(
        manifest,
        utterances=kept,
        labels=policy.order((u.emotion for u in kept), natural=manifest.labels),
        filters={**manifest.filters, **policy.filters()},
    )


__all__ = [
    "DatasetSpec", "check_dataset_options", "dataset_names", "dataset_options", "load_manifest",
    "read_roots_config", "register_dataset", "resolve_root",
]  # fmt: skip
