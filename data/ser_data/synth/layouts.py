"""The file lists of the real corpus layouts (names exactly as the real corpora use them).

Pure functions: no audio is made here, so the naming can be tested on full-size corpora cheaply.
This module is the one list of layouts (`LAYOUTS`; the CLI's --layout choices): each names the
dataset loader that reads it (`LAYOUT_DATASETS`; savee_flat is SAVEE's flattened ALL/ copy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from . import more_layouts as more
from .seeding import rng_for

LAYOUTS = ("ravdess", "cremad", "iemocap", "emodb", "tess", "savee", "savee_flat", "msppodcast")
LAYOUT_DATASETS = {layout: layout for layout in LAYOUTS} | {"savee_flat": "savee"}
MAX_ACTORS = {"ravdess": 24, "cremad": 91, "iemocap": 10, "emodb": 10, "tess": 2, "savee": 4,
              "savee_flat": 4, "msppodcast": 5000}  # fmt: skip
MIN_ACTORS = {"iemocap": 2, "msppodcast": 4}  # two speakers per IEMOCAP session; one per MSP partition
DEFAULT_ACTORS = {"ravdess": 24, "cremad": 91, "iemocap": 10, "emodb": 10, "tess": 2, "savee": 4,
                  "savee_flat": 4, "msppodcast": None}  # fmt: skip
# Layouts whose size is also set in utterances (TESS: whole words per speaker and emotion).
SIZED = {"tess": 2 * 7 * more.TESS_MAX_WORDS, "msppodcast": more.MSP_DEFAULT_UTTERANCES}

RAVDESS_EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
RAVDESS_INTENSITY = {1: 1.0, 2: 1.6}  # normal, strong: scale of the deviation from neutral

CREMAD_SENTENCES = {  # code -> words in the real sentence
    "IEO": 3, "TIE": 5, "IOM": 7, "IWW": 6, "TAI": 5, "MTI": 6,
    "IWL": 7, "ITH": 7, "DFA": 4, "ITS": 6, "TSI": 4, "WSI": 7,
}
CREMAD_EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy",
                   "NEU": "neutral", "SAD": "sad"}
CREMAD_LEVELS = {"LO": 0.55, "MD": 1.0, "HI": 1.5, "XX": 1.0}

IEMOCAP_LABELS = {"neu": "neutral", "hap": "happy", "exc": "excited", "sad": "sad",
                  "ang": "angry", "fru": "frustrated", "sur": "surprised", "fea": "fearful",
                  "dis": "disgust", "oth": "other", "xxx": "xxx"}
# Label shares over the real corpus's 10,039 turns (datasets.md).
_IEMOCAP_SHARE = {"xxx": 2507, "fru": 1849, "neu": 1708, "ang": 1103, "sad": 1084, "exc": 1041,
                  "hap": 595, "sur": 107, "fea": 40, "oth": 3, "dis": 2}
# Each dialog has an emotional theme (as the real improvisations do); labels mix it with the
# corpus-wide shares so the overall proportions stay close to the real ones.
_THEMES = {"01": ("fru", "neu"), "02": ("sad", "neu"), "03": ("exc", "hap"), "04": ("ang", "fru"),
           "05": ("neu", "exc")}
# V, A, D annotation means per label (1..5 scales of the real corpus).
_VAD = {"neu": (3.0, 2.6, 2.8), "hap": (4.0, 3.2, 3.1), "exc": (4.0, 3.7, 3.3),
        "sad": (2.1, 2.3, 2.4), "ang": (1.9, 3.9, 3.8), "fru": (2.1, 3.3, 3.3),
        "sur": (3.4, 3.7, 3.0), "fea": (2.2, 3.5, 2.3), "dis": (1.9, 3.1, 3.2),
        "oth": (3.0, 2.9, 2.9)}
_ANNOTATOR_WORD = {"neu": "Neutral", "hap": "Happiness", "exc": "Excited", "sad": "Sadness",
                   "ang": "Anger", "fru": "Frustration", "sur": "Surprise", "fea": "Fear",
                   "dis": "Disgust", "oth": "Other"}
_SCRIPT_LINES = {"script01": 30, "script02": 26, "script03": 28}


@dataclass(frozen=True)
class FileSpec:
    """One file to synthesize. `relpath` uses '/' and is relative to the corpus root."""

    relpath: str
    actor: str
    gender: str
    emotion: str  # canonical emotion that drives the synthesis
    intensity: float
    sentence: str  # sentence key: same key -> same phones
    n_words: int
    lead: tuple[float, float]
    trail: tuple[float, float]
    label: str | None = None  # IEMOCAP/MSP-Podcast: the annotated label (may be xxx / X)
    vad: tuple[float, float, float] | None = None
    annotators: tuple[str, ...] = ()
    extra: tuple[tuple[str, str], ...] = ()  # layout-specific label-file fields (MSP-Podcast)
    audio_key: str | None = None  # keys the file's random stream instead of relpath (SAVEE layouts)


def layout_for_dataset(dataset: str) -> str | None:
    """The synthetic layout that the loader `dataset` reads (None if it has none)."""
    return next((layout for layout in LAYOUTS if LAYOUT_DATASETS[layout] == dataset), None)


def check_actors(layout: str, actors: int | None) -> int:
    """Validate the layout name and actor count; returns the count to use (0: derived from size)."""
    if layout not in LAYOUTS:
        raise DataError(f"unknown layout {layout!r}: allowed values are {', '.join(LAYOUTS)}")
    if actors is None:
        return DEFAULT_ACTORS[layout] or 0
    lo, hi = MIN_ACTORS.get(layout, 1), MAX_ACTORS[layout]
    if layout == "iemocap":
        if not isinstance(actors, int) or actors < 2 or actors > hi or actors % 2:
            raise DataError(f"actors={actors!r} for layout 'iemocap': allowed values are the even "
                            f"numbers 2..{hi} (two speakers per session)")
    elif isinstance(actors, bool) or not isinstance(actors, int) or not lo <= actors <= hi:
        raise DataError(f"actors={actors!r} for layout {layout!r}: allowed values are {lo}..{hi}")
    return actors


def check_size(layout: str, actors: int | None, utterances: int | None) -> tuple[int, int | None]:
    """(actors, utterances) to use; `utterances` only for the layouts in SIZED."""
    n = check_actors(layout, actors)
    if utterances is None:
        if layout == "msppodcast":
            utterances = SIZED[layout]
        return (n or more.msp_default_speakers(utterances or 0)), utterances
    if layout not in SIZED:
        raise DataError(f"utterances={utterances!r} for layout {layout!r}: only {', '.join(SIZED)} take a "
                        "size in utterances; use actors")
    if isinstance(utterances, bool) or not isinstance(utterances, int) or utterances < 1:
        raise DataError(f"utterances={utterances!r} for layout {layout!r}: allowed values are integers >= 1")
    if layout == "tess":
        n = n or DEFAULT_ACTORS["tess"]
        if not 7 * n <= utterances <= SIZED["tess"] * n // 2:
            raise DataError(f"utterances={utterances} for layout 'tess' with {n} speaker(s): allowed values "
                            f"are {7 * n}..{SIZED['tess'] * n // 2} (7 emotions x 1..200 words per speaker)")
        return n, utterances
    n = n or more.msp_default_speakers(utterances)
    if utterances < n:
        raise DataError(f"utterances={utterances} for layout 'msppodcast' with {n} speakers: need at least "
                        "one utterance per speaker")
    return n, utterances


def layout_files(layout: str, actors: int | None = None, *, seed: int = 0,
                 utterances: int | None = None) -> list[FileSpec]:
    """Every file of a synthetic corpus in `layout`, in a fixed order."""
    n, size = check_size(layout, actors, utterances)
    if layout == "tess":
        words = more.TESS_MAX_WORDS if size is None else size // (7 * n)
        return more.tess_files(n, seed, words, FileSpec)
    if layout == "msppodcast":
        assert size is not None
        return more.msp_files(n, size, seed, FileSpec)
    if layout in ("savee", "savee_flat"):
        return more.savee_files(n, seed, layout == "savee_flat", FileSpec)
    if layout == "emodb":
        return more.emodb_files(n, seed, FileSpec)
    return {"ravdess": _ravdess, "cremad": _cremad, "iemocap": _iemocap}[layout](n, seed)


def _ravdess(n: int, seed: int) -> list[FileSpec]:
    out = []
    for a in range(1, n + 1):
        gender = "M" if a % 2 else "F"
        for e, emotion in enumerate(RAVDESS_EMOTIONS, start=1):
            for i in (1,) if emotion == "neutral" else (1, 2):
                for s in (1, 2):
                    for r in (1, 2):
                        name = f"03-01-{e:02d}-{i:02d}-{s:02d}-{r:02d}-{a:02d}.wav"
                        out.append(FileSpec(f"Actor_{a:02d}/{name}", f"ravdess-{a:02d}", gender,
                                            emotion, RAVDESS_INTENSITY[i], f"ravdess-{s:02d}",
                                            6, (0.5, 1.0), (0.3, 0.8)))
    return out


def cremad_demographics(n: int) -> list[dict[str, str]]:
    """Rows of VideoDemographics.csv. Sex/age/race are fixed per actor id, not per seed."""
    r = rng_for(0, "cremad-demographics")
    sexes = np.array(["Male"] * 48 + ["Female"] * 43)[r.permutation(91)]
    races = r.choice(["African American", "Asian", "Caucasian", "Unknown"], size=91,
                     p=[0.23, 0.08, 0.62, 0.07])
    eth = r.choice(["Not Hispanic", "Hispanic"], size=91, p=[0.87, 0.13])
    ages = r.integers(20, 75, size=91)
    return [{"ActorID": str(1001 + i), "Age": str(ages[i]), "Sex": str(sexes[i]),
             "Race": str(races[i]), "Ethnicity": str(eth[i])} for i in range(n)]


def _cremad(n: int, seed: int) -> list[FileSpec]:
    out = []
    for row in cremad_demographics(n):
        actor, gender = row["ActorID"], row["Sex"][0]
        for sent, words in CREMAD_SENTENCES.items():
            for code, emotion in CREMAD_EMOTIONS.items():
                if sent == "IEO" and code != "NEU":
                    levels = ("LO", "MD", "HI")
                else:
                    levels = ("XX",)
                for lv in levels:
                    out.append(FileSpec(f"AudioWAV/{actor}_{sent}_{code}_{lv}.wav",
                                        f"cremad-{actor}", gender, emotion, CREMAD_LEVELS[lv],
                                        f"cremad-{sent}", words, (0.2, 0.6), (0.2, 0.6)))
    return out


def _iemocap_dialogs(session: int) -> list[str]:
    # Session 3 carries the lettered variants the real corpus has (impro05a/b, script01_1b),
    # which break loaders that parse by character position.
    impro = ["impro01", "impro02", "impro03", "impro04"]
    script = ["script01_1", "script02_1", "script03_1"]
    if session == 3:
        impro = ["impro01", "impro02", "impro05a", "impro05b"]
        script = ["script01_1b", "script02_1", "script03_1"]
    return [f"Ses{session:02d}{p}_{d}" for p in ("F", "M") for d in impro + script]


def _iemocap_label(r: np.random.Generator, theme: tuple[str, ...]) -> str:
    labels = [k for k in _IEMOCAP_SHARE if k != "xxx"]
    share = np.array([_IEMOCAP_SHARE[k] for k in labels], dtype=float)
    bias = np.array([0.7 if k == theme[0] else 0.3 if k == theme[1] else 0.0 for k in labels])
    p = 0.5 * share / share.sum() + 0.5 * bias
    # xxx ("no agreement") stays at its real ~25 % whatever the dialog's theme.
    p = np.append(0.75 * p / p.sum(), 0.25)
    return str(r.choice(labels + ["xxx"], p=p))


def _iemocap(n: int, seed: int) -> list[FileSpec]:
    out = []
    for session in range(1, n // 2 + 1):
        for dialog in _iemocap_dialogs(session):
            improvised = "_impro" in dialog
            kind = dialog.split("_")[1]
            num = kind[5:7] if improvised else kind[6:8]
            theme = _THEMES.get(num, ("neu", "fru"))
            r = rng_for(seed, "iemocap-dialog", dialog)
            turns = int(r.integers(20, 29)) if improvised else _SCRIPT_LINES[kind]
            counts = {"F": 0, "M": 0}
            spk = str(r.choice(["F", "M"]))
            for line in range(turns):
                if r.random() < 0.8:  # mostly alternating turns
                    spk = "M" if spk == "F" else "F"
                utt = f"{dialog}_{spk}{counts[spk]:03d}"
                counts[spk] += 1
                ru = rng_for(seed, "iemocap-label", utt)
                label = _iemocap_label(ru, theme)
                if label == "xxx":  # annotators disagreed: a blend, weakly expressed
                    emotion = IEMOCAP_LABELS[str(ru.choice(["neu", "fru", "ang", "exc", "sad",
                                                            "hap"]))]
                    intensity = float(ru.uniform(0.3, 0.8))
                else:
                    emotion = IEMOCAP_LABELS[label]
                    intensity = float(ru.uniform(0.5, 1.2))
                vad, ann = _iemocap_annotations(ru, label, emotion)
                sentence = (f"iemocap-{kind[:8]}-{line:03d}" if not improvised
                            else f"iemocap-{utt}")
                words = int(ru.integers(3, 14)) if improvised else 3 + (line * 7) % 10
                out.append(FileSpec(
                    f"Session{session}/sentences/wav/{dialog}/{utt}.wav",
                    f"Ses{session:02d}{spk}", spk, emotion, intensity, sentence, words,
                    (0.1, 0.4), (0.1, 0.4), label, vad, ann))
    return out


def _iemocap_annotations(r: np.random.Generator, label: str,
                         emotion: str) -> tuple[tuple[float, float, float], tuple[str, ...]]:
    """Averaged V/A/D from 2-3 evaluators plus the categorical/dimensional annotator lines."""
    key = label if label != "xxx" else next(k for k, v in IEMOCAP_LABELS.items() if v == emotion)
    mean = np.array(_VAD.get(key, _VAD["neu"]))
    n_dim = int(r.integers(2, 4))
    votes = np.clip(np.rint(mean + r.normal(0.0, 0.7, size=(n_dim, 3))), 1, 5)
    vad = tuple(float(v) for v in np.round(votes.mean(axis=0), 4))
    lines = []
    cat_words = list(_ANNOTATOR_WORD.values())
    for i in range(3):
        word = _ANNOTATOR_WORD.get(label) if label != "xxx" else None
        if word is None or r.random() < 0.2:
            word = str(r.choice(cat_words))
        lines.append(f"C-E{i + 1}:\t{word};\t()")
    for i in range(n_dim):
        v, a, d = (int(x) for x in votes[i])
        lines.append(f"A-E{i + 1}:\tval {v}; act {a}; dom  {d};\t()")
    return vad, tuple(lines)


def iemocap_label_text(dialog: str, entries: list[tuple[float, float, FileSpec]]) -> str:
    """EmoEvaluation/<dialog>.txt in the real format: header, then blank line + turn + annotators."""
    parts = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
    for start, end, spec in sorted(entries, key=lambda e: e[0]):
        utt = spec.relpath.rsplit("/", 1)[-1][:-4]
        v, a, d = spec.vad or (3.0, 3.0, 3.0)
        parts.append(f"[{start:.4f} - {end:.4f}]\t{utt}\t{spec.label}\t[{v:.4f}, {a:.4f}, {d:.4f}]")
        parts.extend(spec.annotators)
        parts.append("")
    return "\n".join(parts)
