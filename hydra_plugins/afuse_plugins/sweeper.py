"""Hydra's basic sweeper, ending a sweep whose jobs failed on bad input with one closing line.

A job stopped by an afuse error logs its own one-line error (`[rte seed 1] afuse fuse: error:
...`) and raises JobFailed (afuse/cli.py); the other jobs go on. Hydra's sweeper then read the
jobs' returns in order and stopped at the first failed one: it printed "Error executing job with
overrides: [...]" for that job alone, repeated its line and added a HYDRA_FULL_ERROR hint (for a
traceback there is none of), and never read the jobs after it, so a bug in a later job lost its
traceback. Here every batch's failed jobs are named in one line, and a job that hit a bug (any
exception but JobFailed) is handed to Hydra first, which prints its traceback as before.
"""

import sys

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.utils import JobReturn, JobStatus

from afuse.job_failed import JobFailed
from afuse.job_logs import job_label


class AfuseSweeper(BasicSweeper):
    def setup(self, *, hydra_context, task_function, config) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self.launcher = _Checked(self.launcher, FailedJobs(sys.argv[0]))


class _Checked:
    """The launcher, its returns checked by FailedJobs before the sweeper reads them."""

    def __init__(self, launcher, failed: "FailedJobs") -> None:
        self._launcher, self._failed = launcher, failed

    def launch(self, job_overrides, initial_job_idx):
        return self._failed.check(self._launcher.launch(job_overrides, initial_job_idx=initial_job_idx))

    def __getattr__(self, name):
        return getattr(self._launcher, name)


class FailedJobs:
    def __init__(self, command: str) -> None:
        self.command = command  # `afuse fuse`, as sys.argv[0] names it (afuse/cli.py)

    def check(self, results: list[JobReturn]) -> list[JobReturn]:
        """Name the jobs refused on bad input and end the sweep (exit 1); the returns, a job
        that hit a bug first, when there is one: Hydra then prints that job's traceback."""
        failed = [r for r in results if r.status is JobStatus.FAILED]
        refused = [r for r in failed if isinstance(r._return_value, JobFailed)]
        if refused:
            labels = ", ".join(_label(r, n) for n, r in enumerate(results) if _within(r, refused))
            print(
                f"{self.command}: {len(refused)} of {len(results)} jobs failed: {labels} (each one's "
                "error line is above); fix what they say and rerun the same command: finished jobs "
                "are skipped",
                file=sys.stderr,
            )
        bugs = [r for r in failed if not _within(r, refused)]
        if refused and not bugs:
            raise SystemExit(1)
        return bugs + [r for r in results if not _within(r, bugs)]


def _within(result: JobReturn, results: list[JobReturn]) -> bool:
    return any(result is other for other in results)  # JobReturn's == compares every field


def _label(result: JobReturn, number: int) -> str:
    if result.cfg is None:  # not composed: its overrides say which job it was
        return f"[{' '.join(result.overrides or [])}]"
    return f"[{job_label(result.cfg, number)}]"
