"""A sweep job stopped by bad input or a missing prerequisite, as Hydra reports it.

Hydra prints the traceback of any exception a multirun job raises, except a
CompactHydraException, whose message alone it prints. The job's one-line error is logged before
this is raised; the traceback would only bury it. Its own module, so that `afuse --help` (which
imports afuse.cli) still answers without importing Hydra, and so that a parallel launcher's
worker can pickle it back to the sweep.
"""

from hydra.errors import CompactHydraException


class JobFailed(CompactHydraException):
    """The message is the job's error line, `afuse <command>: error: ...`."""
