"""`afuse <command> [hydra overrides]`: one console script over one Hydra app per command.

Each command is an ordinary `@hydra.main` application (overrides, `--cfg job`, `--help`, `-m`
multirun and launchers all work), built here with the command's primary config from conf/.
"""

import difflib
import importlib
import logging
import os
import signal
import sys

from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue

from afuse import __version__, sweep_worker
from afuse.atomic import NO_SPACE, NOT_WRITABLE, write_error
from afuse.commands import COMMANDS, Command
from afuse.completion import SHELL_COMPLETION_FLAGS, command_to_complete, only_groups_read
from afuse.config import register_resolvers, task_names
from afuse.errors import AfuseError, ConfigError
from afuse.hydra_flags import check_flags
from afuse.job_logs import job_label, label_console
from afuse.overrides import check_bare_words, check_overrides, check_sweep_values, expand_own_globs
from afuse.paths import conf_dir
from afuse.progress_bars import follow_progress_setting
from afuse.rerun_record import runs_where_the_record_is
from afuse.train import signals
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
        if isinstance(exc, MissingMandatoryValue):
            return missing_value(exc)
        if isinstance(exc, OSError) and exc.errno in (*NO_SPACE, *NOT_WRITABLE):
            return write_error(exc.filename or "a file", exc)
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def missing_value(exc: MissingMandatoryValue) -> ConfigError:
    """A `???` value the user must give (fuse's target): name the key and its valid values."""
    key = exc.full_key or "a required value"
    valid = f"; valid: {' '.join(task_names())}" if key in ("target", "task") else ""
    return ConfigError(f"no {key} given: add {key}=<name>{valid}")


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
    signals.remember_stop(preempted.signum)
    # Python's own SIGINT handler would only raise KeyboardInterrupt: Ctrl-C hands over to no one.
    if callable(preempted.previous_handler) and not preempted.interrupted:
        preempted.previous_handler(preempted.signum, None)
    sweep_worker.leave_if_sweep_is_gone(preempted.signum)
    raise SystemExit(128 + preempted.signum)


def _task_function(command: Command):
    def task(cfg: DictConfig):
        if _in_multirun():  # parallel jobs share the terminal: tell their lines apart
            from hydra.core.hydra_config import HydraConfig

            label_console(job_label(cfg, HydraConfig.get().job.num))
            sweep_worker.note_sweep_parent()
        sweep_worker.refuse_after_stop()
        try:
            runs_where_the_record_is(cfg)  # a command composed from a run's config.yaml
            validate(cfg)  # before any work: a bad value fails in a second, naming its key
            follow_progress_setting(cfg)
            module = importlib.import_module(command.module)
            return module.main(cfg)
        except Preempted as preempted:
            exit_for_requeue(preempted)
        except BrokenPipeError:
            reader_gone()
        except Exception as exc:
            error = user_error(exc)
            if error is None:
                raise
            show_error(f"afuse {command.name}: error: {error}")
            if _in_multirun():
                # Hydra marks this job failed; the other jobs of the sweep go on.
                from afuse.job_failed import JobFailed

                raise JobFailed(f"afuse {command.name}: error: {error}") from None
            sys.exit(error.exit_code)

    task.__module__ = command.module  # Hydra derives the job name and calling file from this
    task.__name__ = command.config_name
    return task


def show_error(line: str) -> None:
    """The error line on the console (and in the log file), also when the console is off:
    with hydra/job_logging=disabled the afuse logger is disabled, and the job exited without it."""
    log = logging.getLogger("afuse")
    if log.disabled or not log.isEnabledFor(logging.ERROR) or not log.hasHandlers():
        print(line, file=sys.stderr, flush=True)
    else:
        log.error("%s", line)


def run_command(command: Command, argv: list[str]) -> None:
    import hydra  # here, not at the top: `afuse --help` answers without it

    register_resolvers()
    # A full disk fails the log file's writes too: the error itself reaches the console once,
    # instead of a "--- Logging error ---" traceback for every later log line.
    logging.raiseExceptions = False
    app = hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name=command.config_name)(
        _task_function(command)
    )
    args = command.hydra_args(argv)
    completing = any(arg in SHELL_COMPLETION_FLAGS for arg in args)
    try:
        check_flags(command, args)
        if not completing:  # install=bash, query=bash: the completion's words, not settings
            check_bare_words(command.config_name, args)
            check_overrides(command.config_name, args)
            check_sweep_values(command.name, args, command.no_sweep)
            args = expand_own_globs(args)
    except ConfigError as error:
        print(f"afuse {command.name}: error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
    # Hydra's completion script is for the program argv[0] names: afuse, not "afuse <command>"
    sys.argv = ["afuse" if completing else f"afuse {command.name}", *args]
    signals.clear_stop()
    app()


def reader_gone() -> None:
    """`afuse status | head`: the reader of stdout left early; the rest of the output has nowhere
    to go. Quietly, as a program killed by SIGPIPE, not with a BrokenPipeError traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # Python's flush at exit would raise once more
    sys.exit(128 + signal.SIGPIPE)


def print_without_command(argv: list[str]) -> None:
    """`afuse --help | head -3`: the usage or version, into a pipe whose reader may be gone."""
    try:
        print(f"afuse {__version__}" if argv and argv[0] in ("-V", "--version") else usage())
        sys.stdout.flush()
    except BrokenPipeError:
        reader_gone()
    if not argv:
        sys.exit(USAGE_EXIT)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help", "-V", "--version"):
        print_without_command(argv)
        return
    if argv[0] in SHELL_COMPLETION_FLAGS:  # <Tab>: Hydra's completion script asks `afuse -sc query=bash`
        command = command_to_complete(argv)
        if command is not None:
            with only_groups_read(command, argv):
                run_command(command, argv)
        return
    name, rest = argv[0], argv[1:]
    command = COMMANDS.get(name)
    if command is None:
        print(f"afuse: unknown command {name!r}{command_hint(name)}\n\n{usage()}", file=sys.stderr)
        sys.exit(USAGE_EXIT)
    try:
        run_command(command, rest)
        sys.stdout.flush()  # here, where a closed pipe can still be told apart from a bug
    except BrokenPipeError:
        reader_gone()
    except KeyboardInterrupt:
        # A second Ctrl-C during training, or one outside it: stop now; finished runs and
        # checkpoints are written atomically, so nothing written is half a file.
        print(f"\nafuse {name}: interrupted (Ctrl-C); rerun the same command to resume", file=sys.stderr)
        sys.exit(128 + signal.SIGINT)


def command_hint(name: str) -> str:
    """'; did you mean train-adapter?' for train-adaptor or train_adapter."""
    close = difflib.get_close_matches(name.replace("_", "-"), list(COMMANDS), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


if __name__ == "__main__":
    main()
