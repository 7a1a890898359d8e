"""A tiny phone inventory and deterministic 'sentences' (syllable sequences).

Vowel formants are adult-male averages in the style of Peterson & Barney (1952); female and
child-like voices scale them with the actor's vocal-tract factor. Consonants are coarse classes
(stops, fricatives, nasals, liquids) with a place of articulation that sets the F2 locus.
"""

from __future__ import annotations

from dataclasses import dataclass

from .seeding import rng_for

# (F1, F2, F3) in Hz; diphthongs have a second target.
VOWELS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "i": ((270, 2290, 3010),),
    "I": ((390, 1990, 2550),),
    "E": ((530, 1840, 2480),),
    "ae": ((660, 1720, 2410),),
    "a": ((730, 1090, 2440),),
    "o": ((570, 840, 2410),),
    "U": ((440, 1020, 2240),),
    "u": ((300, 870, 2240),),
    "V": ((640, 1190, 2390),),
    "@": ((500, 1500, 2500),),
    "3": ((490, 1350, 1690),),
    "aI": ((730, 1090, 2440), (390, 1990, 2550)),
    "eI": ((530, 1840, 2480), (300, 2200, 2900)),
    "oU": ((570, 840, 2410), (440, 1020, 2240)),
}
VOWEL_NAMES = tuple(VOWELS)
F4, F5 = 3500.0, 4500.0  # fixed upper formants (scaled per voice)

# Consonant class -> (kind, place). Kinds: stop (closure + burst + aspiration), fric
# (frication noise), nasal (weak voiced murmur), liquid (voiced glide into the vowel).
CONSONANTS: dict[str, tuple[str, str]] = {
    "p": ("stop", "lab"), "t": ("stop", "alv"), "k": ("stop", "vel"),
    "b": ("vstop", "lab"), "d": ("vstop", "alv"), "g": ("vstop", "vel"),
    "s": ("fric", "alv"), "S": ("fric", "pal"), "f": ("fric", "lab"), "h": ("fric", "glot"),
    "z": ("vfric", "alv"), "v": ("vfric", "lab"),
    "m": ("nasal", "lab"), "n": ("nasal", "alv"),
    "l": ("liquid", "alv"), "r": ("liquid", "pal"), "w": ("liquid", "lab"), "j": ("liquid", "pal"),
}
CONSONANT_NAMES = tuple(CONSONANTS)
# F2 locus per place (Delattre et al. 1955, roughly); F1 is low in any constriction.
LOCUS_F2 = {"lab": 900.0, "alv": 1750.0, "vel": 2100.0, "pal": 2000.0, "glot": 1500.0}


@dataclass(frozen=True)
class Syllable:
    onset: str | None
    vowel: str
    coda: str | None
    stressed: bool


@dataclass(frozen=True)
class Sentence:
    words: tuple[tuple[Syllable, ...], ...]
    phrase_breaks: frozenset[int]  # word indices followed by a phrase pause


def make_sentence(key: str, n_words: int) -> Sentence:
    """The syllable sequence of sentence `key`: the same key gives the same phones for every actor."""
    r = rng_for(0, "sentence", key)
    words = []
    for _ in range(n_words):
        n_syl = int(r.choice([1, 1, 1, 2, 2, 3]))
        stress = int(r.integers(n_syl))
        syls = []
        for s in range(n_syl):
            onset = None if r.random() < 0.2 else str(r.choice(CONSONANT_NAMES))
            coda = str(r.choice(CONSONANT_NAMES)) if r.random() < 0.35 else None
            syls.append(Syllable(onset, str(r.choice(VOWEL_NAMES)), coda, s == stress))
        words.append(tuple(syls))
    breaks = frozenset(int(i) for i in range(n_words - 1) if n_words > 4 and r.random() < 0.12)
    return Sentence(tuple(words), breaks)
