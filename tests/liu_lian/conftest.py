"""A tiny IEMOCAP-layout corpus (4 actors = 2 sessions) for the CLI runs."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_iemocap(synth_corpus) -> Path:  # type: ignore[no-untyped-def]
    return synth_corpus("iemocap", actors=4, seed=5)
