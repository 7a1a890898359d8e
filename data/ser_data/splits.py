"""Corpus partition names -> train / val / test (one table for every loader and protocol).

Corpora name their official partitions differently: MSP-Podcast writes Train, Development,
Test1, Test2 (Test3 in 1.12); EmoBox's files say train, valid, test; other lists use dev or
validation. Matching is case-insensitive; anything else is an error, never a guess.
"""

from __future__ import annotations

import re

PARTS = ("train", "val", "test")

_NAMES = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val", "dev": "val", "development": "val",
    "test": "test", "testing": "test",
}  # fmt: skip
_NUMBERED_TEST = re.compile(r"^test\d+$")  # MSP-Podcast Test1, Test2, Test3

ALLOWED = "train/training, val/valid/validation/dev/development, test/testing/test<N> (any case)"


def normalize_split(value: str) -> str | None:
    """'train', 'val' or 'test' for a partition name, None when it is not one."""
    key = value.strip().lower()
    if key in _NAMES:
        return _NAMES[key]
    if _NUMBERED_TEST.match(key):
        return "test"
    return None
