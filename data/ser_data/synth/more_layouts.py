"""File lists of the EmoDB, TESS, SAVEE and MSP-Podcast layouts (names as the real corpora use them).

Pure functions like layouts.py: no audio here. Which files exist is fixed per size (not per
seed), as for RAVDESS and CREMA-D; the seed changes the voices, the prosody and, for MSP-Podcast,
the annotations. Facts and sources: docs/datasets.md.
"""

from __future__ import annotations

import numpy as np

from .seeding import rng_for

# --- EmoDB -----------------------------------------------------------------------------------
EMODB_SPEAKERS = {"03": "M", "08": "F", "09": "F", "10": "M", "11": "M", "12": "M", "13": "F",
                  "14": "F", "15": "M", "16": "F"}  # fmt: skip
# Text code -> words in the English gloss of the German sentence (a* short, b* long).
EMODB_TEXTS = {"a01": 6, "a02": 7, "a04": 5, "a05": 14, "a07": 6, "b01": 9, "b02": 12, "b03": 11,
               "b09": 13, "b10": 11}  # fmt: skip
EMODB_EMOTIONS = {"W": "angry", "L": "boredom", "E": "disgust", "A": "fearful", "F": "happy",
                  "T": "sad", "N": "neutral"}  # fmt: skip
# Files per emotion in the 535-file release (10 speakers x 10 texts = 100 cells per emotion;
# anger has 27 cells with a second take).
EMODB_COUNTS = {"W": 127, "L": 81, "E": 46, "A": 69, "F": 71, "T": 62, "N": 79}

# --- TESS ------------------------------------------------------------------------------------
TESS_SPEAKERS = ("OAF", "YAF")
TESS_CODES = {"angry": "angry", "disgust": "disgust", "fear": "fearful", "happy": "happy",
              "neutral": "neutral", "ps": "surprised", "sad": "sad"}  # fmt: skip
# Folder names of the common (Kaggle) copy, inconsistent case included.
TESS_FOLDERS = {
    ("OAF", "angry"): "OAF_angry", ("OAF", "disgust"): "OAF_disgust", ("OAF", "fear"): "OAF_Fear",
    ("OAF", "happy"): "OAF_happy", ("OAF", "neutral"): "OAF_neutral",
    ("OAF", "ps"): "OAF_Pleasant_surprise", ("OAF", "sad"): "OAF_Sad",
    ("YAF", "angry"): "YAF_angry", ("YAF", "disgust"): "YAF_disgust", ("YAF", "fear"): "YAF_fear",
    ("YAF", "happy"): "YAF_happy", ("YAF", "neutral"): "YAF_neutral",
    ("YAF", "ps"): "YAF_pleasant_surprised", ("YAF", "sad"): "YAF_sad",
}  # fmt: skip
TESS_MAX_WORDS = 200
# 200 one-syllable carrier words (onset x rime); not the real NU-6 list, only its shape.
_ONSETS = ("b", "ch", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "sh", "t", "th",
           "v", "w", "y")  # fmt: skip
_RIMES = ("ack", "ail", "ake", "all", "ame", "ape", "at", "ead", "ill", "ine")
TESS_WORDS = tuple(o + r for o in _ONSETS for r in _RIMES)

# --- SAVEE -----------------------------------------------------------------------------------
SAVEE_SPEAKERS = ("DC", "JE", "JK", "KL")
SAVEE_CODES = {"a": "angry", "d": "disgust", "f": "fearful", "h": "happy", "n": "neutral",
               "sa": "sad", "su": "surprised"}  # fmt: skip

# --- MSP-Podcast -----------------------------------------------------------------------------
MSP_CODES = {"N": "neutral", "H": "happy", "S": "sad", "A": "angry", "U": "surprised",
             "F": "fearful", "D": "disgust", "C": "contempt", "O": "other", "X": "xxx"}  # fmt: skip
# Approximate label shares (plausible for a naturalistic corpus; not the release's counts).
MSP_SHARE = {"N": 0.30, "H": 0.15, "A": 0.06, "S": 0.06, "U": 0.03, "F": 0.015, "D": 0.02,
             "C": 0.05, "O": 0.04, "X": 0.275}  # fmt: skip
# Speaker shares of the official partitions (release 1.11: 84,030 / 19,815 / 30,647 / 14,815).
MSP_SPLITS = {"Train": 84030, "Development": 19815, "Test1": 30647, "Test2": 14815}
# (valence, arousal, dominance) means per class on the corpus's 1..7 scales.
MSP_VAD = {"N": (4.1, 3.8, 4.1), "H": (5.3, 4.6, 4.6), "A": (2.5, 5.4, 5.1), "S": (2.6, 3.4, 3.6),
           "U": (4.5, 4.9, 4.3), "F": (2.8, 4.6, 3.6), "D": (2.7, 4.5, 4.6), "C": (3.0, 4.2, 4.8),
           "O": (3.8, 4.0, 4.1), "X": (3.9, 4.1, 4.2)}  # fmt: skip
MSP_DEFAULT_UTTERANCES = 2000
MSP_UNKNOWN_SPEAKER_SHARE = 0.03  # Train turns whose speaker is not annotated yet


def msp_default_speakers(utterances: int) -> int:
    return max(8, utterances // 40)


def emodb_files(n: int, seed: int, spec_cls: type) -> list:
    speakers = list(EMODB_SPEAKERS)[:n]
    cells = [(s, t) for s in speakers for t in EMODB_TEXTS]
    out = []
    for letter, emotion in EMODB_EMOTIONS.items():
        count = int(round(EMODB_COUNTS[letter] * n / len(EMODB_SPEAKERS)))
        r = rng_for(0, "emodb-cells", letter)
        order = [cells[i] for i in r.permutation(len(cells))]
        takes = [(cell, 0) for cell in order[: min(count, len(cells))]]
        takes += [(cell, 1) for cell in order[: max(0, count - len(cells))]]  # second takes
        for (speaker, text), take in takes:
            # The kept take's letter (real names use a..f); a second take is the next letter.
            first = str(rng_for(0, "emodb-version", letter, speaker, text).choice(
                ["a", "b", "c", "d"], p=[0.35, 0.3, 0.25, 0.1]))
            version = chr(ord(first) + take)
            name = f"{speaker}{text}{letter}{version}"
            out.append(spec_cls(f"wav/{name}.wav", f"emodb-{speaker}", EMODB_SPEAKERS[speaker], emotion,
                                1.0, f"emodb-{text}", EMODB_TEXTS[text], (0.05, 0.2), (0.05, 0.2)))
    return sorted(out, key=lambda s: s.relpath)


def tess_files(n: int, seed: int, words: int, spec_cls: type) -> list:
    out = []
    for speaker in TESS_SPEAKERS[:n]:
        for code, emotion in TESS_CODES.items():
            folder = TESS_FOLDERS[(speaker, code)]
            for word in TESS_WORDS[:words]:
                out.append(spec_cls(f"{folder}/{speaker}_{word}_{code}.wav", f"tess-{speaker}", "F", emotion,
                                    1.0, f"tess-{word}", 4, (0.1, 0.3), (0.1, 0.3)))
    return out


def savee_files(n: int, seed: int, flat: bool, spec_cls: type) -> list:
    out = []
    for speaker in SAVEE_SPEAKERS[:n]:
        for code, emotion in SAVEE_CODES.items():
            for number in range(1, (30 if code == "n" else 15) + 1):
                stem = f"{code}{number:02d}"
                relpath = f"ALL/{speaker}_{stem}.wav" if flat else f"AudioData/{speaker}/{stem}.wav"
                words = 7 + int(rng_for(0, "savee-words", stem).integers(0, 6))
                # Same audio in both layouts: the file's random stream is keyed by speaker+stem.
                out.append(spec_cls(relpath, f"savee-{speaker}", "M", emotion, 1.0, f"savee-{stem}", words,
                                    (0.3, 0.8), (0.3, 0.8), audio_key=f"savee/{speaker}_{stem}"))
    return out


def msp_files(speakers: int, utterances: int, seed: int, spec_cls: type) -> list:
    """`utterances` turns from `speakers` speakers, speaker-independent official partitions."""
    parts = _msp_speaker_parts(speakers)
    r = rng_for(0, "msp-turns")
    weights = np.exp(r.normal(0.0, 0.8, size=speakers))  # a few talkative speakers, many quiet ones
    counts = _allocate(utterances, weights)
    genders = ["Male" if rng_for(0, "msp-gender", i).random() < 0.5 else "Female" for i in range(speakers)]
    podcasts = _msp_podcasts(parts)
    codes = list(MSP_SHARE)
    share = np.array([MSP_SHARE[c] for c in codes])
    out = []
    turn_of_podcast: dict[int, int] = {}
    for spk in range(speakers):
        podcast = podcasts[spk]
        for _ in range(counts[spk]):
            turn_of_podcast[podcast] = turn_of_podcast.get(podcast, 0) + 1
            name = f"MSP-PODCAST_{podcast:04d}_{turn_of_podcast[podcast]:04d}"
            ru = rng_for(seed, "msp-label", name)
            code = str(ru.choice(codes, p=share / share.sum()))
            if code == "X":  # no agreement: a weakly expressed blend
                emotion = MSP_CODES[str(ru.choice(["N", "H", "A", "S", "C"]))]
                intensity = float(ru.uniform(0.2, 0.6))
            else:
                emotion = MSP_CODES[code]
                intensity = float(ru.uniform(0.3, 0.9))
            vad = tuple(float(round(float(np.clip(m + ru.normal(0.0, 0.6), 1.0, 7.0)), 6)) for m in MSP_VAD[code])
            unknown = parts[spk] == "Train" and ru.random() < MSP_UNKNOWN_SPEAKER_SHARE
            extra = (("EmoClass", code), ("SpkrID", "Unknown" if unknown else str(spk + 1)),
                     ("Gender", "Unknown" if unknown else genders[spk]), ("Split_Set", parts[spk]))  # fmt: skip
            out.append(spec_cls(f"Audios/{name}.wav", f"msp-{spk + 1}", genders[spk][0], emotion, intensity,
                                f"msp-{name}", int(ru.integers(4, 11)), (0.1, 0.35), (0.1, 0.35),
                                label=code, vad=vad, extra=extra))  # fmt: skip
    return sorted(out, key=lambda s: s.relpath)


def msp_labels_csv(specs: list) -> str:
    """Labels/labels_consensus.csv in the release's column order."""
    lines = ["FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set"]
    for spec in specs:
        extra = dict(spec.extra)
        val, act, dom = spec.vad
        name = spec.relpath.rsplit("/", 1)[-1]
        lines.append(f"{name},{extra['EmoClass']},{act!r},{val!r},{dom!r},{extra['SpkrID']},"
                     f"{extra['Gender']},{extra['Split_Set']}")
    return "\n".join(lines) + "\n"


def _msp_speaker_parts(speakers: int) -> list[str]:
    names = list(MSP_SPLITS)
    share = np.array([MSP_SPLITS[n] for n in names], dtype=float)
    sizes = _allocate(speakers, share, minimum=1 if speakers >= len(names) else 0)
    order = rng_for(0, "msp-parts").permutation(speakers)
    parts = [""] * speakers
    at = 0
    for name, size in zip(names, sizes):
        for i in order[at : at + size]:
            parts[int(i)] = name
        at += size
    return parts


def _msp_podcasts(parts: list[str]) -> list[int]:
    """Podcast id per speaker: 1-3 speakers of the same partition share a podcast."""
    r = rng_for(0, "msp-podcasts")
    out = [0] * len(parts)
    podcast = 0
    for name in MSP_SPLITS:
        members = [i for i, p in enumerate(parts) if p == name]
        while members:
            podcast += 1
            take = int(r.integers(1, 4))
            for i in members[:take]:
                out[i] = podcast
            members = members[take:]
    return out


def _allocate(total: int, weights: np.ndarray, minimum: int = 0) -> list[int]:
    """Integers summing to `total` in proportion to `weights` (largest remainder), each >= minimum."""
    n = len(weights)
    base = [minimum] * n
    rest = total - minimum * n
    if rest <= 0:
        return [total // n + (1 if i < total % n else 0) for i in range(n)]
    exact = rest * np.asarray(weights, dtype=float) / float(np.sum(weights))
    floor = np.floor(exact).astype(int)
    left = rest - int(floor.sum())
    order = np.argsort(-(exact - floor), kind="stable")
    for i in order[:left]:
        floor[i] += 1
    return [b + int(f) for b, f in zip(base, floor)]
