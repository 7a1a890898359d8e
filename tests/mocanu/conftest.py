"""A tiny Mocanu grid on a 3-actor synthetic corpus (3 actor folds: train/val/test one actor each)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mocanu_tiny_grid import TINY


@pytest.fixture(scope="session")
def mocanu_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ser_data.synth import generate_corpus

    root = tmp_path_factory.mktemp("mocanu") / "ravdess"
    generate_corpus("ravdess", root, actors=3, seed=5)
    return root


@pytest.fixture()
def tiny_mocanu(tmp_path: Path, mocanu_corpus: Path) -> Path:
    path = tmp_path / "tiny_mocanu.yaml"
    path.write_text(TINY.format(root=mocanu_corpus, strategies="[S1, S5]"))
    return path
