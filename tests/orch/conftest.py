"""Fixtures for orchestrator tests: a small synthetic corpus on disk, read by the real loaders."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_GRID = """
name: tiny_kumar
description: "two families, two folds"
task: kumar
dataset: {{name: ravdess, root: {root}}}
features: {{name: mfcc39}}
protocol: {{name: kumar_70_30, folds: 3, params: {{folds: 3}}}}
model: {{family: fc, depth: 6}}
train: {{pretrain_epochs: 3, triplet_epochs: 3, batch_size: 64}}
grid:
  model.family: [fc, resnet]
  model.depth: [6]
quick:
  folds: [0, 1]
report:
  series: model.family
  x: model.depth
  paper:
    - {{where: {{model.family: resnet, model.depth: 6}}, wa: 61.11, source: "Table I"}}
"""


@pytest.fixture(scope="session")
def tiny_corpus(synth_corpus) -> Path:  # type: ignore[no-untyped-def]
    """A 2-actor RAVDESS-layout corpus (120 real WAV files) from the project's own generator."""
    return synth_corpus("ravdess", actors=2, seed=3)


@pytest.fixture()
def tiny_grid(tmp_path: Path, tiny_corpus: Path) -> Path:
    path = tmp_path / "tiny_kumar.yaml"
    path.write_text(TINY_GRID.format(root=tiny_corpus))
    return path


@pytest.fixture(scope="module")
def task_corpora(synth_corpus) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    """The corpus roots of ``task_grids``' grids: two RAVDESS-layout ones and an IEMOCAP-layout one."""
    return {"ravdess": synth_corpus("ravdess", actors=2, seed=3), "mocanu": synth_corpus("ravdess", actors=3, seed=5),
            "iemocap": synth_corpus("iemocap", actors=4, seed=5)}
