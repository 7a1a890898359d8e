"""Write a synthetic corpus to disk: parallel over files, atomic at the corpus level."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np
import soundfile as sf

from ..atomic import atomic_dir
from ..errors import DataError
from ..pool import process_pool_mapper
from ..paths import user_cache_dir
from .layouts import (FileSpec, check_actors, check_size, cremad_demographics, iemocap_label_text,
                      layout_files)
from .more_layouts import msp_labels_csv
from .phonetics import make_sentence
from .prosody import utterance_prosody
from .render import render
from .seeding import rng_for
from .voice import voice_for

SYNTH_VERSION = 1  # bump whenever the audio for a given seed changes (invalidates caches)


def synthesize(spec: FileSpec, seed: int, sample_rate: int) -> np.ndarray:
    """The samples of one file; depends only on (seed, spec), never on worker or order."""
    rng = rng_for(seed, "file", spec.audio_key or spec.relpath)
    voice = voice_for(seed, spec.actor, spec.gender)
    pros = utterance_prosody(seed, voice, spec.emotion, spec.intensity, rng)
    sent = make_sentence(spec.sentence, spec.n_words)
    return render(sent, voice, pros, rng, sample_rate, spec.lead, spec.trail)


def _write_chunk(root: str, specs: Sequence[FileSpec], seed: int,
                 sample_rate: int) -> list[tuple[str, int]]:
    """Worker: synthesize and write a batch of files; returns (relpath, n_samples)."""
    done = []
    for spec in specs:
        audio = synthesize(spec, seed, sample_rate)
        path = os.path.join(root, *spec.relpath.split("/"))
        sf.write(path, audio.astype(np.float32), sample_rate, subtype="PCM_16")
        done.append((spec.relpath, len(audio)))
    return done


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(f"output folder {out} already exists and is not empty; "
                        "choose a new path or remove it first")


def generate_corpus(layout: str, out: Path, *, seed: int = 0, actors: int | None = None,
                    utterances: int | None = None, sample_rate: int = 16000,
                    workers: int | None = None,
                    progress: Callable[[int, int], None] | None = None) -> Path:
    """Generate a synthetic emotional-speech corpus in the real `layout` at `out`; returns `out`.

    `actors` sets the size (speakers); `utterances` too for the layouts that take it (tess,
    msppodcast). The same seed gives the same bytes whatever the worker count. The corpus is
    built in a temporary sibling folder and renamed into place at the end, so a half-written
    corpus never appears at `out`.
    """
    actors, utterances = check_size(layout, actors, utterances)
    if not isinstance(sample_rate, int) or not 8000 <= sample_rate <= 96000:
        raise DataError(f"sample_rate={sample_rate!r}: allowed values are integers 8000..96000")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise DataError(f"workers={workers!r}: allowed values are integers >= 1")
    out = Path(out).expanduser().absolute()
    _check_out(out)
    specs = layout_files(layout, actors, seed=seed, utterances=utterances)
    try:
        with atomic_dir(out) as tmp:  # umask permissions, unlike mkdtemp's 0700
            for folder in sorted({s.relpath.rsplit("/", 1)[0] for s in specs}):
                (tmp / folder).mkdir(parents=True, exist_ok=True)
            lengths = _run(specs, str(tmp), seed, sample_rate, workers, progress)
            _write_metadata(layout, tmp, specs, lengths, actors, sample_rate)
    except FileExistsError:
        _check_out(out)  # someone filled `out` meanwhile: say so clearly
        raise
    return out


def _run(specs: list[FileSpec], root: str, seed: int, sample_rate: int, workers: int | None,
         progress: Callable[[int, int], None] | None) -> dict[str, int]:
    total = len(specs)
    workers = workers or os.cpu_count() or 1
    lengths: dict[str, int] = {}
    if workers == 1 or total < 8:
        for i, spec in enumerate(specs):
            lengths.update(_write_chunk(root, [spec], seed, sample_rate))
            if progress:
                progress(i + 1, total)
        return lengths
    chunk = max(1, min(24, total // (workers * 4)))
    chunks = [specs[i : i + chunk] for i in range(0, total, chunk)]
    # spawn workers (safe under torch/Ray threads), stopped on Ctrl-C and when this process dies.
    for done in process_pool_mapper(workers)(partial(_write_chunk, root, seed=seed, sample_rate=sample_rate), chunks):
        lengths.update(done)
        if progress:
            progress(len(lengths), total)
    return lengths


def _write_metadata(layout: str, root: Path, specs: list[FileSpec], lengths: dict[str, int],
                    actors: int, sample_rate: int) -> None:
    """The side files the real corpora ship: CREMA-D demographics, IEMOCAP label files."""
    if layout == "cremad":
        with open(root / "VideoDemographics.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=["ActorID", "Age", "Sex", "Race", "Ethnicity"])
            w.writeheader()
            w.writerows(cremad_demographics(actors))
    elif layout == "msppodcast":
        (root / "Labels").mkdir(exist_ok=True)
        (root / "Labels" / "labels_consensus.csv").write_text(msp_labels_csv(specs))
    elif layout == "savee":
        (root / "AudioData" / "Info.txt").write_text(
            "Speakers: DC, JE, JK and KL (male). Audio: WAV files. The letters 'a', 'd', 'f', 'h', 'n', "
            "'sa' and 'su' represent anger, disgust, fear, happiness, neutral, sadness and surprise; "
            "the digits are the sentence number. (Synthetic corpus written by ser_data.synth.)\n")
    elif layout == "iemocap":
        by_dialog: dict[str, list[FileSpec]] = {}
        for spec in specs:
            by_dialog.setdefault(spec.relpath.split("/")[3], []).append(spec)
        for dialog, items in by_dialog.items():
            session = items[0].relpath.split("/")[0]
            t = 2.0 + 4.0 * (rng_for(0, "iemocap-start", dialog).random())
            entries = []
            for spec in items:  # turns follow each other with short gaps, as in a dialog
                dur = lengths[spec.relpath] / sample_rate
                entries.append((t, t + dur, spec))
                t += dur + 0.3 + 1.2 * rng_for(0, "iemocap-gap", spec.relpath).random()
            folder = root / session / "dialog" / "EmoEvaluation"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{dialog}.txt").write_text(iemocap_label_text(dialog, entries) + "\n")


def default_corpus(
    layout: str = "ravdess", seed: int = 0, progress: Callable[[int, int], None] | None = None
) -> Path:
    """The cached default corpus of `layout` (generated on first use, then reused).

    `progress(done, total)` is only called when the corpus has to be generated.
    """
    check_actors(layout, None)
    target = user_cache_dir() / "synth" / f"{layout}-seed{seed}-v{SYNTH_VERSION}"
    if target.is_dir() and any(target.iterdir()):
        return target
    try:
        return generate_corpus(layout, target, seed=seed, progress=progress)
    except (DataError, OSError):
        # Another process won the race and renamed its complete corpus into place first.
        if target.is_dir() and any(target.iterdir()):
            return target
        raise
