"""Helpers shared by the corpus loaders: root checks, audio checks, the final manifest."""

from __future__ import annotations

import math
from pathlib import Path

from ser_data.audio import audio_info, check_signal, read_audio
from ser_data.datasets.options import Option
from ser_data.errors import AudioFileError, DataError
from ser_data.manifest import Manifest, Utterance


def require_root(root: str | Path, dataset: str, expected: str) -> Path:
    """Absolute root folder, or DataError naming it and the layout that was expected."""
    path = Path(root).expanduser()
    if not path.exists():
        raise DataError(f"{dataset}: data root {path} does not exist (expected {expected})")
    if not path.is_dir():
        raise DataError(f"{dataset}: data root {path} is not a folder (expected {expected})")
    return path.resolve()


def require_file(root: str | Path, dataset: str, expected: str) -> Path:
    """Absolute path of a list file (manifest CSV/JSONL), or DataError naming it."""
    path = Path(root).expanduser()
    if not path.exists():
        raise DataError(f"{dataset}: {path} does not exist (expected {expected})")
    if not path.is_file():
        raise DataError(f"{dataset}: {path} is not a file (expected {expected})")
    return path.resolve()


def is_hidden(path: Path) -> bool:
    # macOS copies carry ._ resource forks and .DS_Store next to the real files.
    return path.name.startswith(".")


def label_set_option(label_sets: dict[str, tuple[str, ...]], default: str = "full") -> Option:
    return Option("label_set", "choice", default, "which labels are kept", choices=tuple(label_sets))


def header_duration(path: Path, check_audio: str, problems: list[tuple[str, str]]) -> float | None:
    """Duration of a usable file; NaN when not checked; None (and a problem) when unusable.

    check_audio: "none" (not opened), "header" (soundfile header: readable, non-empty, long
    enough) or "signal" (also decodes the samples: NaN/inf and silence).
    """
    if check_audio == "none":
        return math.nan
    try:
        info = audio_info(path)
        if check_audio == "signal":
            check_signal(read_audio(path, target_sr=None), path)
        return info.duration
    except AudioFileError as err:
        problems.append((err.path, err.reason))
        return None


def finish(
    dataset: str,
    root: Path,
    utterances: list[Utterance],
    labels: tuple[str, ...],
    problems: list[tuple[str, str]],
    expected: str,
    *,
    skipped: dict[str, int] | None = None,
    label_set: str | None = None,
    filters: dict[str, object] | None = None,
    filtered_out: int = 0,
) -> Manifest:
    """Build the manifest, or raise DataError when nothing usable was found."""
    if not utterances:
        detail = []
        if problems:
            detail.append(f"{len(problems)} problem file(s), first: {problems[0][0]}: {problems[0][1]}")
        if filtered_out:
            detail.append(f"{filtered_out} utterance(s) removed by the label set/filters")
        tail = f" ({'; '.join(detail)})" if detail else ""
        raise DataError(f"{dataset}: no usable utterances under {root}; expected {expected}{tail}")
    utterances.sort(key=lambda u: u.utt_id)
    return Manifest(
        dataset=dataset,
        root=str(root),
        utterances=utterances,
        labels=labels,
        problems=sorted(problems),
        skipped=dict(skipped or {}),
        label_set=label_set,
        filters=dict(filters or {}),
    )
