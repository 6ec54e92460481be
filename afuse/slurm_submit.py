"""A SLURM sweep that cannot be submitted: one line saying why and how to run it locally instead.

submitit reports a failed `sbatch` as a FailedJobError traceback from deep inside Hydra's
launcher, and a machine without SLURM's client commands as a RuntimeError ("Could not detect
srun"). afuse's SLURM launcher (hydra_plugins/afuse_plugins/slurm.py) submits inside
`explained_submission()`, which turns both into afuse's usual error line and exit code:

    4  no SLURM client here, or no controller reachable (OfflineError): nothing was submitted
    2  sbatch refused the job (a partition or account it does not know, ...; ConfigError)

A job that was submitted and failed on its node is not touched: it is reported as before.

Under `afuse run` (which sets AFUSE_SUBMISSION_RECORD to a file per sweep) the error is written
to that file instead of the console: afuse run stops at the first sweep SLURM could not take and
says why once, rather than each of its sweeps repeating the same line.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from afuse.atomic import atomic_write_json
from afuse.errors import AfuseError, ConfigError, OfflineError

RECORD_ENV = "AFUSE_SUBMISSION_RECORD"

RUN_LOCALLY = (
    "or run the sweep on this machine with hydra/launcher=local (one job at a time) or "
    "hydra/launcher=local_parallel"
)
# What sbatch says when it cannot reach slurmctld or find the cluster's configuration.
UNREACHABLE = (
    "unable to contact slurm controller",
    "could not establish a configuration source",
    "slurm_load_partitions",
    "connection refused",
    "zero bytes were transmitted or received",
)


@contextmanager
def explained_submission() -> Iterator[None]:
    """Run a SLURM launch; a submission that fails ends the command with one error line."""
    missing = [command for command in ("sbatch", "srun") if shutil.which(command) is None]
    if missing:
        _exit(
            OfflineError(
                f"{' and '.join(missing)} not found on PATH: this machine has no SLURM client, so "
                f"hydra/launcher=slurm_* cannot submit; run the command on the cluster's login node, "
                f"{RUN_LOCALLY}"
            )
        )
    try:
        yield
    except Exception as exc:
        error = submission_error(exc)
        if error is None:
            raise
        _exit(error)


def submission_error(exc: BaseException) -> AfuseError | None:
    """afuse's error for an exception raised by `sbatch` failing; None for any other exception."""
    called = exc.__cause__
    if not (isinstance(called, subprocess.CalledProcessError) and _is_sbatch(called.cmd)):
        return None
    lines = [line.strip() for line in str(called.stderr or "").splitlines() if line.strip()]
    # submitit has printed sbatch's lines just above: repeat only the last, its conclusion.
    said = re.sub(r"^sbatch: (error|fatal): ", "", lines[-1]) if lines else f"exit status {called.returncode}"
    if any(phrase in " ".join(lines).lower() for phrase in UNREACHABLE):
        return OfflineError(
            f"sbatch could not submit the sweep: no SLURM controller is reachable from here ({said}); "
            f"check the cluster (`sinfo`) or run the command on its login node, {RUN_LOCALLY}"
        )
    return ConfigError(
        f"sbatch refused the sweep ({said}); check the hydra.launcher.* settings it names "
        f"(partition, account, qos, constraint, ...), {RUN_LOCALLY}"
    )


def _is_sbatch(cmd) -> bool:
    program = cmd[0] if isinstance(cmd, list | tuple) and cmd else str(cmd).split(" ")[0]
    return str(program).rsplit("/", 1)[-1] == "sbatch"


class SubmissionFailed(AfuseError):
    """A sweep of `afuse run` that SLURM did not take: its child's error and exit code."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def recorded_failure(record: Path) -> SubmissionFailed | None:
    """The submission failure a child of `afuse run` wrote to `record`; None if it wrote none."""
    if not record.exists():
        return None
    written = json.loads(record.read_text())
    return SubmissionFailed(written["error"], written["exit_code"])


def _exit(error: AfuseError) -> None:
    # The launcher runs inside Hydra, which would print any exception with a traceback;
    # SystemExit passes through it.
    if _told_afuse_run(error):  # it prints the error, once for all its sweeps
        raise SystemExit(error.exit_code)
    program = sys.argv[0] if sys.argv and sys.argv[0].startswith("afuse") else "afuse"
    print(f"{program}: error: {error}", file=sys.stderr)
    raise SystemExit(error.exit_code)


def _told_afuse_run(error: AfuseError) -> bool:
    record = os.environ.get(RECORD_ENV)
    if not record:
        return False
    try:
        atomic_write_json(record, {"error": str(error), "exit_code": error.exit_code})
    except AfuseError:  # the record cannot be written: say it here instead
        return False
    return True
