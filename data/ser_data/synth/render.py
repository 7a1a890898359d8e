"""Turn (sentence, voice, prosody) into a waveform: timeline -> tracks -> source-filter synthesis."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .phonetics import CONSONANTS, F4, F5, LOCUS_F2, VOWELS, Sentence
from .prosody import UttProsody
from .source import (band_noise, colored_noise, envelope, formant_filter, glottal_source,
                     tilt)
from .voice import Voice

# Frication bands per place of articulation (Hz) and the noise level of each consonant
# relative to vowel RMS (sibilants are loud, /f v/ weak).
_BANDS = {"alv": (3500.0, 7500.0), "pal": (2000.0, 5500.0), "lab": (700.0, 6500.0),
          "vel": (1400.0, 3600.0)}
_FRIC_LEVEL = {"s": 0.35, "S": 0.35, "f": 0.08, "z": 0.18, "v": 0.06}
_REF_DBFS = -30.0  # active-speech RMS of a neutral utterance at 0 dB gain


@dataclass
class _Timeline:
    voice: list = field(default_factory=list)  # (t0, t1, amp) voiced source
    asp: list = field(default_factory=list)  # aspiration noise through the tract
    breath: list = field(default_factory=list)  # inhalations (outside the tract model)
    fric: dict = field(default_factory=lambda: {p: [] for p in _BANDS})
    formants: list = field(default_factory=list)  # (t, F1, F2, F3)
    nuclei: list = field(default_factory=list)  # (t0, t1, stressed, last)


def _consonant(tl: _Timeline, c: str, t: float, sc: float, next_vowel: tuple) -> float:
    """Append consonant `c` at time t; returns its end time."""
    kind, place = CONSONANTS[c]
    locus = (300.0, LOCUS_F2[place], 2500.0 if c != "r" else 1700.0)
    if kind in ("stop", "vstop"):
        closure, burst = 0.055 * sc, 0.012
        aspiration = (0.035 if kind == "stop" else 0.008) * sc
        if kind == "vstop":
            tl.voice.append((t, t + closure, 0.06))  # voice bar
        b0 = t + closure
        tl.fric["alv" if place == "alv" else ("lab" if place == "lab" else "vel")].append(
            (b0, b0 + burst, 0.5))
        tl.asp.append((b0 + burst, b0 + burst + aspiration, 0.5))
        tl.formants.append((b0, *locus))
        return b0 + burst + aspiration
    if kind in ("fric", "vfric"):
        d = (0.09 if kind == "fric" else 0.07) * sc
        if c == "h":
            tl.asp.append((t, t + d, 0.6))
            tl.formants.append((t + d / 2, *next_vowel))  # /h/ takes the vowel's shape
        else:
            tl.fric["pal" if place == "pal" else place].append((t, t + d, _FRIC_LEVEL[c]))
            tl.formants.append((t + d / 2, *locus))
        if kind == "vfric":
            tl.voice.append((t, t + d, 0.3))
        return t + d
    if kind == "nasal":
        d = 0.065 * sc
        tl.voice.append((t, t + d, 0.3))
        tl.formants.append((t + d / 2, 260.0, 900.0 if place == "lab" else 1400.0, 2300.0))
        return t + d
    d = 0.055 * sc  # liquids and glides
    tl.voice.append((t, t + d, 0.6))
    tl.formants.append((t + d / 2, 350.0, locus[1], locus[2]))
    return t + d


def _timeline(sent: Sentence, pros: UttProsody, voice: Voice, rng: np.random.Generator,
              lead: tuple[float, float]) -> tuple[_Timeline, float]:
    tl = _Timeline()
    t = float(rng.uniform(*lead))
    if rng.random() < 0.35 + voice.breathiness:  # audible inhalation before speaking
        d = float(rng.uniform(0.25, 0.45))
        tl.breath.append((max(0.02, t - d - 0.08), max(0.02, t - d - 0.08) + d, 1.0))
    n_words = len(sent.words)
    for wi, word in enumerate(sent.words):
        for si, syl in enumerate(word):
            sc = float(np.exp(rng.normal(0.0, 0.12))) / pros.rate
            last = wi == n_words - 1 and si == len(word) - 1
            vf = VOWELS[syl.vowel]
            if syl.onset:
                t = _consonant(tl, syl.onset, t, sc, vf[0])
            d = 0.11 * sc * (1.45 if syl.stressed else 1.0) * (1.35 if last else 1.0)
            tl.voice.append((t, t + d, 1.0 if syl.stressed else 0.72))
            if len(vf) == 1:
                tl.formants += [(t + 0.3 * d, *vf[0]), (t + 0.7 * d, *vf[0])]
            else:
                tl.formants += [(t + 0.25 * d, *vf[0]), (t + 0.8 * d, *vf[1])]
            tl.nuclei.append((t, t + d, syl.stressed, last))
            t += d
            if syl.coda:
                t = _consonant(tl, syl.coda, t, 0.8 * sc, vf[-1])
        if wi in sent.phrase_breaks:
            d = float(rng.uniform(0.15, 0.35)) * pros.pause
            if rng.random() < 0.3 + pros.breathiness:
                tl.breath.append((t + 0.03, t + max(0.06, d - 0.03), 0.7))
            t += d
        elif rng.random() < 0.25:
            t += float(rng.uniform(0.03, 0.1)) * pros.pause
    return tl, t


def _f0_track(tl: _Timeline, pros: UttProsody, n: int, sr: int,
              rng: np.random.Generator) -> np.ndarray:
    """F0 in Hz per sample: declination + pitch accents on stressed nuclei + final contour."""
    t_first, t_last = tl.nuclei[0][0], tl.nuclei[-1][1]
    span = max(t_last - t_first, 1e-3)
    xs, ys = [], []
    for t0, t1, stressed, last in tl.nuclei:
        mid = 0.5 * (t0 + t1)
        base = -pros.declination_st * (mid - t_first) / span
        acc = pros.accent_st * (rng.uniform(0.6, 1.0) if stressed else rng.uniform(-0.25, 0.15))
        if last:
            xs += [t0, t1]
            ys += [base + 0.5 * acc, base + 0.5 * acc + pros.final_st]
        else:
            xs += [t0, mid, t1]
            ys += [base + 0.3 * acc, base + acc, base + 0.4 * acc]
    t = np.arange(n) / sr
    st = np.interp(t, xs, ys)
    # Slow wander (the natural micro-prosody a rule set lacks) and the fear tremor.
    for _ in range(2):
        st += 0.4 * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * t + rng.uniform(0, 2 * np.pi))
    if pros.tremor_st > 0:
        st += pros.tremor_st * np.sin(2 * np.pi * rng.uniform(5.0, 7.0) * t)
    # 55-650 Hz spans adult speech, shouting and screaming included.
    return np.clip(pros.f0_base * 2.0 ** (st / 12.0), 55.0, min(650.0, 0.2 * sr))


def render(sent: Sentence, voice: Voice, pros: UttProsody, rng: np.random.Generator, sr: int,
           lead: tuple[float, float], trail: tuple[float, float]) -> np.ndarray:
    """Synthesize one utterance as float64 samples in [-1, 1]."""
    tl, t_end = _timeline(sent, pros, voice, rng, lead)
    n = int(round((t_end + float(rng.uniform(*trail))) * sr))
    # Formants update every 10 ms, the frame rate of classic formant synthesizers.
    block = max(1, int(round(0.010 * sr)))
    nb = (n + block - 1) // block

    # Formant tracks at block rate, scaled by the actor's vocal-tract factor.
    fx = np.array([f[0] for f in tl.formants])
    fy = np.array([f[1:] for f in tl.formants])
    tb = (np.arange(nb) + 0.5) * block / sr
    freqs = np.stack([np.interp(tb, fx, fy[:, k]) for k in range(3)]
                     + [np.full(nb, F4), np.full(nb, F5)], axis=1) * voice.vtl_scale
    freqs *= np.exp(rng.normal(0.0, 0.03, size=(1, 5)))  # per-utterance articulation spread
    bws = np.array([70.0, 90.0, 130.0, 180.0, 250.0]) * (1.0 + np.array(
        [1.2, 0.6, 0.3, 0.2, 0.2]) * pros.breathiness)
    bws = np.broadcast_to(bws, freqs.shape)
    keep = freqs.max(axis=0) < 0.45 * sr  # low sample rates lose the top formants
    freqs, bws = freqs[:, keep], bws[:, keep]

    f0 = _f0_track(tl, pros, n, sr, rng)
    dflow, flow = glottal_source(f0, sr, open_quotient=pros.open_quotient, jitter=pros.jitter,
                                 shimmer=pros.shimmer, rng=rng)
    dflow /= np.std(dflow) + 1e-12
    venv = envelope(tl.voice, n, sr)
    aenv = envelope(tl.asp, n, sr, 0.004)
    white = rng.standard_normal((4, n))
    breathy = pros.breathiness * (0.3 + flow / (flow.max() + 1e-12))
    src = dflow * venv * (1.0 - 0.4 * pros.breathiness) + white[0] * (0.5 * breathy * venv + aenv)
    src = tilt(src, sr, pros.tilt_db, 1000.0)
    speech = formant_filter(src, sr, freqs, bws, block)
    active = venv > 0.5
    speech /= np.sqrt(np.mean(speech[active] ** 2)) + 1e-12 if active.any() else 1.0

    for place, segs in tl.fric.items():
        if segs:
            lo, hi = _BANDS[place]
            speech += envelope(segs, n, sr, 0.006) * band_noise(white[1], sr, lo, hi)
    if tl.breath:
        benv = envelope(tl.breath, n, sr, 0.08) * 0.06 * (1.0 + 2.0 * pros.breathiness)
        speech += benv * band_noise(white[2], sr, 400.0, 2500.0)
    speech = tilt(speech, sr, voice.mic_tilt_db, 2500.0)

    level = 10.0 ** ((_REF_DBFS + pros.level_db) / 20.0)
    speech *= level / (np.sqrt(np.mean(speech[active] ** 2)) + 1e-12 if active.any() else 1.0)
    noise_rms = level * 10.0 ** (-pros.snr_db / 20.0)
    out = speech + noise_rms * colored_noise(white[3], sr, voice.noise_color)
    peak = np.max(np.abs(out))
    if peak > 0.97:  # the recordist would have turned the gain down; never clip
        out *= 0.97 / peak
    return out
