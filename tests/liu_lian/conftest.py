"""A tiny IEMOCAP-layout corpus (4 actors = 2 sessions) for the CLI runs."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_iemocap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ser_data.synth import generate_corpus

    root = tmp_path_factory.mktemp("iemocap") / "IEMOCAP"
    generate_corpus("iemocap", root, actors=4, seed=5)
    return root
