"""A tiny Mocanu grid on a 3-actor synthetic corpus (3 actor folds: train/val/test one actor each)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mocanu_tiny_grid import TINY


@pytest.fixture(scope="session")
def mocanu_corpus(synth_corpus) -> Path:  # type: ignore[no-untyped-def]
    return synth_corpus("ravdess", actors=3, seed=5)


@pytest.fixture()
def tiny_mocanu(tmp_path: Path, mocanu_corpus: Path) -> Path:
    path = tmp_path / "tiny_mocanu.yaml"
    path.write_text(TINY.format(root=mocanu_corpus, strategies="[S1, S5]"))
    return path
