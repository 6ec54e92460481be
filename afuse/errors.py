"""User-facing errors: a message that says what was wrong, what is valid and what to run.

Commands raise these instead of letting a traceback reach the user; the CLI prints the message
and exits with the code below.
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
