"""Manifests without audio files, for the fold protocols (a module of its own: importing
``conftest`` by name picks whichever test folder's conftest was imported first)."""

from __future__ import annotations

from ser_data.manifest import Manifest, Utterance


def fake_manifest(
    n_speakers: int, per_speaker: int = 6, labels: tuple[str, ...] = ("a", "b", "c"),
    sessions: int | None = None, dataset: str = "fake",
) -> Manifest:
    """A manifest without files, for the fold protocols."""
    utts = []
    for s in range(n_speakers):
        for j in range(per_speaker):
            utts.append(Utterance(
                utt_id=f"s{s:03d}_{j:03d}", path=f"/none/s{s}_{j}.wav", emotion=labels[(j + s) % len(labels)],
                speaker=f"{1001 + s}", gender="MF"[s % 2],
                session=None if sessions is None else f"Session{s % sessions + 1}",
            ))
    return Manifest(dataset=dataset, root="/none", utterances=utts, labels=labels)
