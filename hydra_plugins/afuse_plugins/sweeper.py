"""Hydra's basic sweeper, ending a sweep whose job failed on bad input without repeating its error.

A job stopped by an afuse error logs its own one-line error (`[rte seed 1] afuse fuse: error:
...`) and raises JobFailed (afuse/cli.py). Hydra's sweeper then reports the first such job
("Error executing job with overrides: [...]") and re-raises its exception, which Hydra prints once
more, followed by "Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.":
a second copy of a line already shown, and advice for a traceback there is none of. Here the
sweep ends at that point with Hydra's exit code 1 and nothing more. Any other exception (a bug)
is reported by Hydra as before, traceback included.
"""

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

from afuse.job_failed import JobFailed


class AfuseSweeper(BasicSweeper):
    def sweep(self, arguments):
        try:
            return super().sweep(arguments)
        except JobFailed:  # its line is on the console already
            raise SystemExit(1) from None
