"""`afuse <command> [hydra overrides]`: one console script over one Hydra app per command.

Each command is an ordinary `@hydra.main` application (overrides, `--cfg job`, `--help`, `-m`
multirun and launchers all work), built here with the command's primary config from conf/.
"""

import importlib
import logging
import sys

import hydra
from omegaconf import DictConfig

from afuse import __version__
from afuse.atomic import NO_SPACE, NOT_WRITABLE, write_error
from afuse.commands import COMMANDS, Command
from afuse.config import register_resolvers
from afuse.errors import AfuseError
from afuse.paths import conf_dir
from afuse.train.signals import Preempted
from afuse.validate import validate

USAGE_EXIT = 2


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [
        "usage: afuse <command> [key=value ...] [--cfg job] [--help] [-m]",
        "",
        "AdapterFusion experiment runner (Pfeiffer et al., 2021). Commands:",
        *(f"  {c.name.ljust(width)}  {c.summary}" for c in COMMANDS.values()),
        "",
        "Every command takes Hydra overrides, e.g.",
        "  afuse train-adapter task=rte model=minilm data.source=local data.raw_dir=../shared/data",
        "  afuse fuse target=rte model=minilm fusion.sources=[rte,mnli,sst2]",
        "  afuse train-adapter -m task=rte,cb seed=1,2,3       (a multirun sweep)",
        "`afuse <command> --help` lists its config groups and keys.",
    ]
    return "\n".join(lines)


def user_error(exc: BaseException) -> AfuseError | None:
    """The AfuseError behind `exc`, also when Hydra or OmegaConf wrapped it (e.g. in a resolver).

    A disk-full or read-only OSError from a write afuse did not wrap itself counts as one too:
    the user needs the path and what to do, not a traceback.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, AfuseError):
            return exc
        if isinstance(exc, OSError) and exc.errno in (*NO_SPACE, *NOT_WRITABLE):
            return write_error(exc.filename or "a file", exc)
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def exit_for_requeue(preempted: Preempted) -> None:
    """The checkpoint is written; hand over to whoever requeues the job, then exit.

    Under submitit the handler that was there before ours (its SIGUSR2 handler) resubmits the job
    and runs `scontrol requeue`; for SIGTERM SLURM requeues a preempted job itself. Always leave by
    SystemExit, never an exception: submitit would record that as the job's failure.
    """
    logging.getLogger("afuse").warning("%s", preempted)
    if callable(preempted.previous_handler):
        preempted.previous_handler(preempted.signum, None)
    raise SystemExit(128 + preempted.signum)


def _task_function(command: Command):
    def task(cfg: DictConfig):
        try:
            validate(cfg)  # before any work: a bad value fails in a second, naming its key
            module = importlib.import_module(command.module)
            return module.main(cfg)
        except Preempted as preempted:
            exit_for_requeue(preempted)
        except Exception as exc:
            error = user_error(exc)
            if error is None:
                raise
            logging.getLogger("afuse").error("afuse %s: error: %s", command.name, error)
            if _in_multirun():
                raise  # Hydra marks this job failed; the other jobs of the sweep go on
            sys.exit(error.exit_code)

    task.__module__ = command.module  # Hydra derives the job name and calling file from this
    task.__name__ = command.config_name
    return task


def run_command(command: Command, argv: list[str]) -> None:
    register_resolvers()
    # A full disk fails the log file's writes too: the error itself reaches the console once,
    # instead of a "--- Logging error ---" traceback for every later log line.
    logging.raiseExceptions = False
    app = hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name=command.config_name)(
        _task_function(command)
    )
    sys.argv = [f"afuse {command.name}", *command.hydra_args(argv)]
    app()


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        sys.exit(0 if argv else USAGE_EXIT)
    if argv[0] in ("-V", "--version"):
        print(f"afuse {__version__}")
        return
    name, rest = argv[0], argv[1:]
    command = COMMANDS.get(name)
    if command is None:
        print(f"afuse: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        sys.exit(USAGE_EXIT)
    run_command(command, rest)


if __name__ == "__main__":
    main()
