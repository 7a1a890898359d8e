"""Errors of the Slurm path: user-facing (exit code 2 in the CLI) like every SerError."""

from __future__ import annotations

from ser_data.errors import SerError


class SlurmError(SerError):
    """A bad profile, an impossible request, or a Slurm command that failed before submission."""


class RayClusterError(SerError):
    """The job's Ray cluster could not form (a node did not start or join in time)."""
