"""Ray Tune execution. Importing this package does not import Ray; running trials does."""

from .runner import Resources, ResourceError, RunOutcome, check_capacity, local_capacity, ray_session, run_trials

__all__ = ["Resources", "ResourceError", "RunOutcome", "check_capacity", "local_capacity", "ray_session", "run_trials"]
