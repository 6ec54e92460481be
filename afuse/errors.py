"""User-facing errors: a message that says what was wrong, what is valid and what to run.

Commands raise these instead of letting a traceback reach the user; the CLI (afuse/cli.py) prints
the message and exits with the error's `exit_code`. Every exit code afuse uses:

  0      success; also `afuse --help`
  1      `afuse run`: a step failed or jobs are left undone, its last line says which
         (afuse.commands.run.StepFailed); a multirun sweep with a failed job (Hydra's code);
         an unexpected error, with its traceback (a bug)
  2      invalid config, override or command line (ConfigError; `afuse` alone prints the usage;
         also a SLURM sweep sbatch refuses, e.g. an unknown partition);
         prepared data a run must not train on (afuse.data.checks.BrokenDataError); nothing to
         train on; a run another process is training ("already running"; AfuseError)
  3      missing input: raw or prepared data, stage-1 adapters (MissingInputError); a raw file
         unusable as a whole (afuse.data.readers.base.RawDataError)
  4      offline: a Hub download failed (OfflineError); a slurm_* sweep with no SLURM client or
         no reachable controller (afuse.slurm_submit)
  5      damaged file: a checkpoint (CorruptCheckpointError), a weights file
         (afuse.modeling.weights.CorruptWeightsError), a finished run's result
         (afuse.result_check.DamagedResultError)
  6      training diverged: a NaN or inf loss or gradient (TrainingDiverged)
  7      cannot write: disk full, quota, read-only (WriteError)
  128+n  stopped by signal n with a checkpoint written, resumable (afuse.cli.exit_for_requeue):
         130 Ctrl-C (SIGINT; also a second Ctrl-C, which stops at once), 143 SIGTERM,
         138 SIGUSR1, 140 SIGUSR2; `afuse export` stopped by SIGTERM: 143, nothing written
         (afuse.staging.ExportStopped)

README.md ("When things go wrong") lists the same codes for users.
"""


class AfuseError(Exception):
    """Bad input or a missing prerequisite. The message is shown as is, without a traceback."""

    exit_code = 2


class ConfigError(AfuseError):
    """A config value is invalid; the message names the key."""

    exit_code = 2


class MissingInputError(AfuseError):
    """Something a run needs does not exist yet (raw data, prepared data, stage-1 adapters)."""

    exit_code = 3


class OfflineError(AfuseError):
    """A Hub download failed: no network. The message says which local alternative to use."""

    exit_code = 4


class WriteError(AfuseError):
    """A file could not be written (disk full, quota, read-only or unwritable output): names the file."""

    exit_code = 7


class CorruptCheckpointError(AfuseError):
    """A checkpoint whose files do not match their recorded sha256 or do not read: never loaded."""

    exit_code = 5


class TrainingDiverged(AfuseError):
    """A NaN or inf loss or gradient: the run stops before the step, keeping its last checkpoint."""

    exit_code = 6
