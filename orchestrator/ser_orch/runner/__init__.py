"""Ray Tune execution. Importing this package does not import Ray; run_trials does."""

from .runner import Resources, RunOutcome, run_trials

__all__ = ["Resources", "RunOutcome", "run_trials"]
