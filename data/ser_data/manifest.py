"""The corpus-independent list of utterances every loader returns (see docs/design.md)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

# Gender when a corpus does not say (CREMA-D without VideoDemographics.csv).
UNKNOWN_GENDER = "U"

# Clips shorter than this are excluded (a problem, not a sample): below a quarter second there
# are fewer than 25 frames of 10 ms, too few for any of the paper features' windows/deltas.
MIN_DURATION_S = 0.25

# How far `load_manifest(check_audio=...)` looked at each file; the note is shown by `data info`.
AUDIO_CHECKS = {
    "none": "audio files not opened: unreadable, short, silent or NaN files are found when features are built",
    "header": f"audio headers checked (readable, non-empty, at least {MIN_DURATION_S} s); "
              "silent or NaN samples are found when features are built",
    "signal": f"audio checked (readable, at least {MIN_DURATION_S} s, no NaN/inf samples, not silent)",
}


@dataclass(frozen=True)
class Utterance:
    """One labelled audio file. `duration` is NaN when the loader did not open the file."""

    utt_id: str
    path: str
    emotion: str
    speaker: str
    gender: str
    session: str | None = None
    intensity: str | None = None
    duration: float = float("nan")
    valence: float | None = None
    arousal: float | None = None
    dominance: float | None = None
    improvised: bool | None = None
    statement: str | None = None
    # Predefined partitions (see ser_data.protocols.predefined): `fold` is the number, as the
    # corpus writes it, of the fold whose test part holds the utterance (EmoBox fold_<k>, a
    # manifest's fold column); `split` is the corpus's own partition name as written (Train,
    # Development, Test1, ...; ser_data.splits maps it to train/val/test).
    fold: int | None = None
    split: str | None = None


@dataclass
class Manifest:
    """Utterances of one corpus, the class order, and the files that were excluded and why.

    `skipped` counts files that are deliberately not speech-audio (RAVDESS song/video) and are
    not problems; `label_set`/`filters` record how the list was selected (part of cache keys).
    """

    dataset: str
    root: str
    utterances: list[Utterance]
    labels: tuple[str, ...]
    problems: list[tuple[str, str]] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    label_set: str | None = None
    filters: dict[str, object] = field(default_factory=dict)
    audio_check: str = "header"  # one of AUDIO_CHECKS: what the loader verified per file

    def __len__(self) -> int:
        return len(self.utterances)

    def label_ids(self) -> np.ndarray:
        """Class index of each utterance into `labels` (int64)."""
        index = {name: i for i, name in enumerate(self.labels)}
        return np.array([index[u.emotion] for u in self.utterances], dtype=np.int64)

    def speakers(self) -> list[str]:
        """Distinct speakers, sorted."""
        return sorted({u.speaker for u in self.utterances})

    def sessions(self) -> list[str]:
        """Distinct non-empty sessions, sorted."""
        return sorted({u.session for u in self.utterances if u.session is not None})

    def counts(self) -> dict[str, int]:
        """Utterances per class, in `labels` order (zero counts included)."""
        c = Counter(u.emotion for u in self.utterances)
        return {name: c.get(name, 0) for name in self.labels}

    def subset(self, indices: Sequence[int] | np.ndarray) -> "Manifest":
        """A manifest with only the given utterances (problems and counts kept)."""
        return Manifest(
            dataset=self.dataset,
            root=self.root,
            utterances=[self.utterances[int(i)] for i in indices],
            labels=self.labels,
            problems=list(self.problems),
            skipped=dict(self.skipped),
            label_set=self.label_set,
            filters=dict(self.filters),
            audio_check=self.audio_check,
        )

    def audio_check_note(self) -> str:
        """One line saying how far the listed files were checked (for `data info`)."""
        return AUDIO_CHECKS[self.audio_check]

    def problem_summary(self, limit: int = 5) -> str:
        """One human line per problem (first `limit`), for logs and the CLI."""
        if not self.problems:
            return "no problems"
        lines = [f"{len(self.problems)} file(s) excluded:"]
        lines += [f"  {p}: {r}" for p, r in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"  ... and {len(self.problems) - limit} more")
        return "\n".join(lines)
