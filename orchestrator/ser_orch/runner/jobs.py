"""The Tune trial's job: one trial (``{"trial", "inputs"}``) or a pack of them (``{"pack", "inputs"}``,
lists in member order). Every callback reads jobs through these helpers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def job_trials(job: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The trial configs a job trains (one, or a pack's members)."""
    if not job:
        return []
    return list(job["pack"]) if "pack" in job else ([job["trial"]] if job.get("trial") else [])


def tune_job(tune_trial: Any) -> Mapping[str, Any]:
    """The job of a Tune trial object (empty when Tune has no config for it)."""
    return (getattr(tune_trial, "config", None) or {}).get("job") or {}


def failed_members(result: Mapping[str, Any] | None) -> list[str]:
    """Trial ids of the pack members a final result reports as failed (their records say why)."""
    try:
        return list(json.loads((result or {}).get("members_failed") or "[]"))
    except (TypeError, ValueError):
        return []


__all__ = ["failed_members", "job_trials", "tune_job"]
