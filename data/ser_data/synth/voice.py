"""One fixed synthetic voice per actor.

Ranges follow typical adult values: F0 medians around 85-155 Hz (male) and 165-260 Hz (female),
female vocal tracts roughly 15-20 % shorter (formants scaled up). Recording conditions (gain,
background noise, microphone colouring) belong to the actor too, as in a real corpus where each
actor is recorded in one session; they are what makes speaker variation comparable to emotion.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .seeding import rng_for


@dataclass(frozen=True)
class Voice:
    actor: str
    gender: str  # "M" or "F"
    f0_median: float  # Hz
    f0_range_st: float  # size of a pitch accent, semitones
    vtl_scale: float  # formant frequency multiplier (shorter tract -> higher)
    rate: float  # syllables-per-second multiplier
    breathiness: float  # 0..1 aspiration noise in the voiced source
    jitter: float  # relative period perturbation (std)
    shimmer: float  # relative amplitude perturbation (std)
    open_quotient: float  # glottal open phase fraction
    tilt_db: float  # glottal high-band gain, dB
    expressiveness: float  # how strongly this actor portrays emotions
    gain_db: float  # recording level offset
    snr_db: float  # typical background-noise SNR
    noise_color: float  # 0 white .. 1 strongly low-passed background
    mic_tilt_db: float  # microphone / room colouring above ~2 kHz


@lru_cache(maxsize=256)
def voice_for(seed: int, actor: str, gender: str) -> Voice:
    """The voice of `actor` in the corpus of `seed`; the same arguments always give the same voice."""
    r = rng_for(seed, "voice", actor)
    male = gender == "M"
    return Voice(
        actor=actor,
        gender=gender,
        f0_median=float(r.uniform(88, 150) if male else r.uniform(170, 255)),
        f0_range_st=float(r.uniform(2.0, 5.5)),
        vtl_scale=float(r.uniform(0.92, 1.06) if male else r.uniform(1.08, 1.22)),
        rate=float(r.uniform(0.82, 1.18)),
        breathiness=float(r.uniform(0.04, 0.25) if male else r.uniform(0.1, 0.4)),
        jitter=float(r.uniform(0.004, 0.014)),
        shimmer=float(r.uniform(0.03, 0.09)),
        open_quotient=float(r.uniform(0.5, 0.68)),
        tilt_db=float(r.uniform(-4.0, 4.0)),
        expressiveness=float(r.uniform(0.55, 1.3)),
        gain_db=float(r.uniform(-6.0, 6.0)),
        snr_db=float(r.uniform(16.0, 36.0)),
        noise_color=float(r.uniform(0.0, 0.95)),
        mic_tilt_db=float(r.uniform(-5.0, 4.0)),
    )
