"""Emotion -> prosody and voice-quality rules.

The directions and rough sizes come from the vocal-affect literature:

- Murray, I. R. & Arnott, J. L. (1993). Toward the simulation of emotion in synthetic speech:
  a review of the literature on human vocal emotion. JASA 93(2), 1097-1108 (their Table I:
  anger/happiness/fear raise pitch level and range, sadness lowers both, slows tempo, softens;
  anger is louder with a tense, "breathy-chest" voice and abrupt falls; fear has irregular,
  jittery voicing; disgust is slow with wide downward terminal inflections).
- Banse, R. & Scherer, K. R. (1996). Acoustic profiles in vocal emotion expression. JPSP 70(3),
  614-636 (hot anger / elation / panic fear: high F0, energy and high-frequency energy; sadness
  and boredom: low F0, flat contour, little high-frequency energy).
- Scherer, K. R. (2003). Vocal communication of emotion: a review of research paradigms.
  Speech Communication 40, 227-256 (Table 6: intensity, F0 floor/range, rate and spectral slope
  per emotion).
- Schröder, M. (2001). Emotional speech synthesis: a review. Eurospeech 2001 (rule sets for
  surprise: high level, rising contours; for calm/relaxed vs neutral: slightly lower, slower,
  softer, more lax voice).

Each rule is a deviation from neutral; the intensity level and the actor's expressiveness scale
that deviation, and every utterance and every actor perturbs it, so that (as with real actors)
emotions with similar arousal overlap.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from .seeding import rng_for
from .voice import Voice


@dataclass(frozen=True)
class Rule:
    f0_st: float = 0.0  # F0 level shift, semitones
    range_log2: float = 0.0  # log2 factor on pitch-accent size
    tempo_log2: float = 0.0  # log2 factor on speaking rate (+ faster)
    loud_db: float = 0.0  # overall level
    tilt_db: float = 0.0  # glottal high-band gain (+ tense/bright, - lax/dull)
    oq: float = 0.0  # open-quotient shift (- pressed/tense, + breathy)
    breath: float = 0.0  # extra aspiration noise
    jitter_log2: float = 0.0  # log2 factor on jitter/shimmer
    final_st: float = 0.0  # final contour: - fall, + rise (semitones)
    pause_log2: float = 0.0  # log2 factor on pause lengths
    tremor_st: float = 0.0  # 5-7 Hz F0 tremor depth (fear)


RULES: dict[str, Rule] = {
    "neutral": Rule(),
    "calm": Rule(f0_st=-0.8, range_log2=-0.3, tempo_log2=-0.1, loud_db=-2.0, tilt_db=-1.5,
                 oq=0.04, breath=0.08, final_st=-1.0, pause_log2=0.2),
    "happy": Rule(f0_st=3.0, range_log2=0.5, tempo_log2=0.1, loud_db=3.0, tilt_db=1.5,
                  oq=-0.03, final_st=1.0, pause_log2=-0.15),
    "sad": Rule(f0_st=-1.5, range_log2=-0.7, tempo_log2=-0.3, loud_db=-4.0, tilt_db=-3.0,
                oq=0.07, breath=0.15, jitter_log2=0.4, final_st=-2.5, pause_log2=0.6),
    "angry": Rule(f0_st=4.0, range_log2=0.6, tempo_log2=0.12, loud_db=6.5, tilt_db=4.5,
                  oq=-0.12, breath=-0.05, jitter_log2=0.4, final_st=-3.0, pause_log2=-0.2),
    "fearful": Rule(f0_st=4.5, range_log2=0.25, tempo_log2=0.2, loud_db=1.0, tilt_db=1.0,
                    oq=-0.02, breath=0.12, jitter_log2=0.9, final_st=1.0, pause_log2=0.35,
                    tremor_st=0.5),
    "disgust": Rule(f0_st=-1.5, range_log2=0.25, tempo_log2=-0.25, loud_db=1.0, tilt_db=1.0,
                    oq=-0.06, breath=0.05, jitter_log2=0.7, final_st=-3.5, pause_log2=0.3),
    "surprised": Rule(f0_st=4.5, range_log2=0.75, tempo_log2=0.0, loud_db=3.0, tilt_db=2.0,
                      breath=0.05, final_st=4.0),
    # IEMOCAP's extra classes: excitement is high-arousal joy, frustration a milder, lower-pitched
    # cousin of anger with sighing breath (Scherer 2003 places it between irritation and anger).
    "excited": Rule(f0_st=4.0, range_log2=0.6, tempo_log2=0.15, loud_db=5.0, tilt_db=2.5,
                    oq=-0.06, final_st=1.0, pause_log2=-0.2),
    "frustrated": Rule(f0_st=1.0, range_log2=0.1, tempo_log2=0.0, loud_db=2.5, tilt_db=1.8,
                       oq=-0.07, breath=0.08, jitter_log2=0.3, final_st=-2.0, pause_log2=0.1),
    "other": Rule(),
    # EmoDB's boredom: low, flat, slow and soft with little high-frequency energy (Banse &
    # Scherer 1996: lowest F0 and F0 variability of their 14 emotions, slow, lax voice).
    "boredom": Rule(f0_st=-1.2, range_log2=-0.8, tempo_log2=-0.2, loud_db=-2.5, tilt_db=-2.0,
                    oq=0.05, breath=0.06, final_st=-1.0, pause_log2=0.4),
    # MSP-Podcast's contempt: slightly low pitch, slowish, a firm voice and long falls (Banse &
    # Scherer 1996 contempt: low F0 and energy, slow; Scherer 2003 places it near disgust).
    "contempt": Rule(f0_st=-1.0, range_log2=0.1, tempo_log2=-0.15, loud_db=0.5, tilt_db=0.5,
                     oq=-0.03, jitter_log2=0.2, final_st=-2.5, pause_log2=0.25),
}

EMOTIONS: tuple[str, ...] = tuple(RULES)

# How much each dimension varies across utterances (absolute units of the Rule fields).
_UTT_NOISE = Rule(f0_st=1.3, range_log2=0.3, tempo_log2=0.1, loud_db=2.0, tilt_db=2.0, oq=0.03,
                  breath=0.05, jitter_log2=0.3, final_st=1.8, pause_log2=0.3, tremor_st=0.1)


@dataclass(frozen=True)
class UttProsody:
    """Concrete parameters for one utterance (actor voice + emotion + randomness)."""

    f0_base: float  # Hz
    accent_st: float  # pitch-accent size
    final_st: float
    declination_st: float  # fall over the utterance
    rate: float  # multiplier on base syllable durations' inverse
    pause: float  # multiplier on pause durations
    level_db: float  # speech level re neutral reference
    tilt_db: float
    open_quotient: float
    breathiness: float
    jitter: float
    shimmer: float
    tremor_st: float
    snr_db: float


def _scale(rule: Rule, k: float) -> Rule:
    return Rule(**{f.name: getattr(rule, f.name) * k for f in fields(Rule)})


def actor_rule(seed: int, actor: str, emotion: str) -> Rule:
    """The actor's own version of an emotion: each dimension scaled by a personal factor.

    Real actors portray the same category differently (some raise pitch for joy, some mainly
    speed up), which is what keeps speaker-independent recognition hard.
    """
    base = RULES[emotion]
    r = rng_for(seed, "actor-rule", actor, emotion)
    vals = {}
    for f in fields(Rule):
        v = getattr(base, f.name)
        vals[f.name] = v * float(np.clip(r.normal(1.0, 0.35), 0.0, 2.0))
    return Rule(**vals)


def utterance_prosody(seed: int, voice: Voice, emotion: str, intensity: float,
                      rng: np.random.Generator) -> UttProsody:
    """Draw one utterance's prosody: actor voice, the actor's emotion rule scaled by intensity, noise."""
    if emotion not in RULES:
        raise KeyError(emotion)
    # Capped so that a very expressive actor at strong intensity stays within human ranges.
    k = min(2.2, intensity * voice.expressiveness * float(np.exp(rng.normal(0.0, 0.25))))
    rule = _scale(actor_rule(seed, voice.actor, emotion), k)
    noise = {f.name: float(rng.normal(0.0, getattr(_UTT_NOISE, f.name))) for f in fields(Rule)}
    rule = replace(rule, **{n: getattr(rule, n) + v for n, v in noise.items()})
    return UttProsody(
        f0_base=voice.f0_median * 2.0 ** (float(np.clip(rule.f0_st, -6.0, 10.0)) / 12.0),
        accent_st=float(np.clip(voice.f0_range_st * 2.0 ** rule.range_log2, 0.3, 9.0)),
        final_st=float(np.clip(rule.final_st, -8.0, 8.0)),
        declination_st=float(rng.uniform(1.0, 3.0)) * 2.0 ** (rule.range_log2 / 2),
        rate=voice.rate * 2.0 ** rule.tempo_log2,
        pause=2.0 ** rule.pause_log2,
        level_db=voice.gain_db + rule.loud_db,
        tilt_db=voice.tilt_db + rule.tilt_db,
        open_quotient=float(np.clip(voice.open_quotient + rule.oq, 0.3, 0.85)),
        breathiness=float(np.clip(voice.breathiness + rule.breath, 0.0, 0.8)),
        jitter=min(0.03, voice.jitter * 2.0 ** rule.jitter_log2),  # 3 %: very rough voice
        shimmer=min(0.15, voice.shimmer * 2.0 ** rule.jitter_log2),
        tremor_st=max(0.0, rule.tremor_st),
        snr_db=voice.snr_db + float(rng.normal(0.0, 3.0)),
    )
