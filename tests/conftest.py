"""Test-wide settings: a private cache folder so tests never read or write the user's cache."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("SER_ORCH_CACHE", tempfile.mkdtemp(prefix="ser-orch-test-cache-"))
os.environ.setdefault("MPLBACKEND", "Agg")


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def synth_corpus(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Small corpora from the project's own generator, written once per (layout, actors, seed)."""
    made: dict[tuple[str, int, int], object] = {}

    def make(layout: str = "ravdess", actors: int = 2, seed: int = 3):  # type: ignore[no-untyped-def]
        from ser_data.synth import generate_corpus

        key = (layout, actors, seed)
        if key not in made:
            folder = tmp_path_factory.mktemp(f"{layout}-a{actors}-s{seed}") / layout
            made[key] = generate_corpus(layout, folder, actors=actors, seed=seed)
        return made[key]

    return make
