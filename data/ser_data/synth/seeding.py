"""Stable random streams: every random draw is keyed by (seed, names), never by process state."""

from __future__ import annotations

import hashlib

import numpy as np


def stable_hash(*parts: object) -> list[int]:
    """Four 32-bit words from a BLAKE2b digest of the parts (Python's hash() is salted per process)."""
    text = "\x1f".join(str(p) for p in parts).encode("utf-8")
    digest = hashlib.blake2b(text, digest_size=16).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


def rng_for(seed: int, *parts: object) -> np.random.Generator:
    """A generator that depends only on the corpus seed and the given names."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, *stable_hash(*parts)])
