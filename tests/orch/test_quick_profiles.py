"""Every grid's quick profile trains enough to mean something: at least MIN_STEPS optimizer steps
per trial on the built-in synthetic corpus. The training parts are the real protocol's folds over
the corpus's file list (from its own generator's layout, no audio needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ser_data.manifest import Manifest, Utterance
from ser_data.protocols import make_folds
from ser_data.synth.layouts import layout_files
from ser_orch.experiment import compile_grid
from ser_orch.tasks import get_task

REPO = Path(__file__).resolve().parents[2]
GRIDS = sorted((REPO / "grids").glob("*.yaml"))
MIN_STEPS = 120  # documented in docs/grids.md ("Quick profiles")
FOUR_CLASS = {"neu": "neutral", "hap": "happy", "exc": "happy", "ang": "angry", "sad": "sad"}  # the loader's 4class


def builtin_manifest(dataset: dict[str, Any]) -> Manifest:
    """The built-in corpus as the loader reads it, from the generator's file list."""
    utts = []
    for i, f in enumerate(layout_files(dataset["name"])):
        session = None
        emotion = f.emotion
        if dataset["name"] == "iemocap":
            if (dataset.get("improvised_only") and "_impro" not in f.relpath) or f.label not in FOUR_CLASS:
                continue
            emotion, session = FOUR_CLASS[f.label], f.relpath.split("/")[0]
        utts.append(Utterance(utt_id=str(i), path=f.relpath, emotion=emotion, speaker=f.actor, gender=f.gender, session=session))
    return Manifest(dataset=dataset["name"], root="/builtin", utterances=utts, labels=tuple(sorted({u.emotion for u in utts})))


def test_the_manifest_stand_in_matches_the_loader(synth_corpus):
    # On a small generated corpus, the file-list manifest counts what the real loader reads.
    from ser_data.datasets import load_manifest

    root = synth_corpus("iemocap", actors=4, seed=5)
    real = load_manifest("iemocap", root, label_set="4class", improvised_only=True)
    files = [f for f in layout_files("iemocap", 4, seed=5) if "_impro" in f.relpath and f.label in FOUR_CLASS]
    assert len(real) == len(files)


@pytest.mark.parametrize("grid_path", GRIDS, ids=[g.stem for g in GRIDS])
def test_quick_profile_makes_enough_optimizer_steps(grid_path: Path):
    grid, trials = compile_grid(grid_path, quick=True)
    task = get_task(grid.spec.task)
    first = trials[0]
    manifest = builtin_manifest(first["dataset"])
    labels = manifest.label_ids()
    for trial in {t["config_id"]: t for t in trials}.values():
        fold = make_folds(trial["protocol"]["name"], manifest, **trial["protocol"].get("params", {}))[trial["fold"]]
        steps = task.optimizer_steps(task.settings(trial), labels[fold.train])
        assert steps >= MIN_STEPS, f"{grid_path.name} quick {trial['config_id']}: {steps} optimizer steps per trial"
