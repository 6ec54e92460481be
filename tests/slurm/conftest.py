"""Exposes the session-wide SLURM cluster fixture to the tests in this folder."""

from slurm_cluster import slurm_env  # noqa: F401
