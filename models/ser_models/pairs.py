"""Lian et al.'s pair loaders for the Siamese training (index pairs into the training set).

- ``loader_1``: a random permutation paired off, so every training sample appears exactly once
  per epoch (an odd one out is paired with a random other sample).
- ``loader_2``: classes are first balanced by keeping a random ``min class count`` samples of
  each class, then as many positive (same class) as negative pairs are drawn from that subset
  (half the subset size in pairs); it does not cover every training sample.

Both return ``(first, second)`` int64 arrays of the same length; the trainer cuts them into
batches of pairs and stacks ``x[first]`` over ``x[second]``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Pairs = tuple[NDArray[np.int64], NDArray[np.int64]]
LOADERS = ("loader_1", "loader_2")


def loader_1(y: NDArray[np.int64], rng: np.random.Generator) -> Pairs:
    n = len(y)
    if n < 2:
        raise ValueError("loader_1 needs at least 2 samples")
    perm = rng.permutation(n)
    half = n // 2
    first, second = perm[:half], perm[half : 2 * half]
    if n % 2:  # the odd one out still appears once
        last = perm[-1]
        other = rng.choice(perm[:-1])
        first, second = np.append(first, last), np.append(second, other)
    return first.astype(np.int64), second.astype(np.int64)


def loader_2(y: NDArray[np.int64], rng: np.random.Generator) -> Pairs:
    classes = np.unique(y)
    if classes.size < 2:
        raise ValueError("loader_2 needs at least 2 classes")
    k = min(int((y == c).sum()) for c in classes)
    if k < 2:
        raise ValueError("loader_2 needs at least 2 samples of every class")
    pools = {int(c): rng.choice(np.flatnonzero(y == c), size=k, replace=False) for c in classes}
    n_pairs = (k * classes.size) // 2
    n_pos = n_pairs // 2
    first: list[int] = []
    second: list[int] = []
    for _ in range(n_pos):
        c = int(rng.choice(classes))
        i, j = rng.choice(pools[c], size=2, replace=False)
        first.append(int(i))
        second.append(int(j))
    for _ in range(n_pairs - n_pos):
        c1, c2 = rng.choice(classes, size=2, replace=False)
        first.append(int(rng.choice(pools[int(c1)])))
        second.append(int(rng.choice(pools[int(c2)])))
    order = rng.permutation(n_pairs)  # mix positives and negatives across batches
    return np.asarray(first, np.int64)[order], np.asarray(second, np.int64)[order]


def make_pairs(name: str, y: NDArray[np.int64], rng: np.random.Generator) -> Pairs:
    if name == "loader_1":
        return loader_1(y, rng)
    if name == "loader_2":
        return loader_2(y, rng)
    raise ValueError(f"unknown pair loader {name!r}; valid: {', '.join(LOADERS)}")
