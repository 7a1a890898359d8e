"""Hand-built trial records with known numbers for the report tests."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from ser_orch.results import TrialRecord

LABELS = ["neutral", "happy", "sad", "angry"]

# family -> depth -> per-fold WA values (fractions); UA is WA - 0.02.
WA = {
    "resnet": {6: [0.50, 0.52, 0.54], 11: [0.60, 0.62, 0.64]},
    "lstm": {6: [0.40, 0.45, 0.47], 11: [0.44, 0.41, 0.46]},
}


def _config_id(family: str, depth: int) -> str:
    return f"family={family},depth={depth}"


def make_record(
    family: str,
    depth: int,
    fold: int,
    seed: int = 0,
    wa: float | None = 0.5,
    status: str = "done",
    error: str | None = None,
    confusion: list[list[int]] | None = None,
) -> TrialRecord:
    cid = _config_id(family, depth)
    metrics: dict[str, Any] = {} if wa is None else {"wa": wa, "ua": round(wa - 0.02, 10)}
    if confusion is None and status == "done":
        confusion = [[3, 1, 0, 0], [0, 4, 0, 0], [1, 0, 2, 1], [0, 0, 0, 4]]
    return TrialRecord(
        trial_id=f"{cid}__fold={fold}__seed={seed}",
        config_id=cid,
        axes={"model.family": family, "model.depth": depth},
        fold=fold,
        seed=seed,
        status=status,
        error=error,
        metrics=metrics if status == "done" else {},
        labels=list(LABELS),
        confusion=confusion if status == "done" else None,
    )


def standard_records() -> list[TrialRecord]:
    """WA table above, plus one failed resnet-11 fold 3."""
    recs = [
        make_record(fam, depth, fold, wa=wa)
        for fam, by_depth in WA.items()
        for depth, values in by_depth.items()
        for fold, wa in enumerate(values)
    ]
    recs.append(make_record("resnet", 11, 3, status="failed", error="CUDA out of memory [GPU 0]"))
    return recs


def planned_trials(folds: int = 5) -> list[dict[str, Any]]:
    """The plan: every family x depth x fold (5 folds), seed 0, so folds 3-4 are partly missing."""
    plan = []
    for fam in WA:
        for depth in (6, 11):
            cid = _config_id(fam, depth)
            for fold in range(folds):
                plan.append(
                    {
                        "trial_id": f"{cid}__fold={fold}__seed=0",
                        "config_id": cid,
                        "axes": {"model.family": fam, "model.depth": depth},
                        "fold": fold,
                        "seed": 0,
                    }
                )
    return plan


PAPER = [
    {"where": {"model.family": "resnet", "model.depth": "11"}, "wa": 61.11, "ua": None, "source": "Table I"},
    {"where": {"model.family": "lstm", "model.depth": 7}, "wa": 56.94, "ua": None, "source": "Table I"},
]

REPORT_SPEC = {"series": "model.family", "x": "model.depth", "paper": PAPER}


@pytest.fixture
def records() -> list[TrialRecord]:
    return standard_records()


@pytest.fixture
def record_factory() -> Callable[..., TrialRecord]:
    return make_record


@pytest.fixture
def plan() -> list[dict[str, Any]]:
    return planned_trials()


@pytest.fixture
def report_spec() -> dict[str, Any]:
    return {"series": "model.family", "x": "model.depth", "paper": [dict(e) for e in PAPER]}


@pytest.fixture
def wa_values() -> dict[str, dict[int, list[float]]]:
    return {fam: {d: list(v) for d, v in by.items()} for fam, by in WA.items()}
