"""Hydra's output folder under paths.logs must take a file before Hydra starts a command.

Hydra creates `hydra.run.dir` (a sweep: `hydra.sweep.dir`) and writes its config and log files
there before afuse's code runs, and reports a failure as its own chained OSError traceback. This
callback (conf/hydra/default.yaml: hydra.callbacks.afuse_logs) tries first, and a read-only, full
or impossible logs folder ends the command with afuse's one-line write error (exit 7).
"""

import sys
import tempfile
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from afuse.atomic import write_error

PROBE_BYTES = 64 * 1024  # about what Hydra writes there first (its config files, the log's start)


class WritableLogs(Callback):
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check(Path(str(config.hydra.run.dir)), str(config.hydra.job.name))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check(Path(str(config.hydra.sweep.dir)), str(config.hydra.job.name))


def _check(folder: Path, command: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)  # the folder Hydra makes next (`now` is cached)
        with tempfile.TemporaryFile(dir=folder) as probe:
            probe.write(b"\0" * PROBE_BYTES)
            probe.flush()
    except OSError as exc:
        print(f"afuse {command.replace('_', '-')}: error: {write_error(folder, exc)}", file=sys.stderr)
        sys.exit(write_error(folder, exc).exit_code)
