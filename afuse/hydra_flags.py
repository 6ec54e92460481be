"""Hydra's own flags (`--cfg`, `--info`, `-cn`, ...) checked before Hydra runs a command.

    check_flags(COMMANDS["train-adapter"], ["--resolve", "task=rte"])
    # ConfigError: --resolve fills in the ${...} values of the config --cfg prints: add --cfg job

Hydra answers a flag that does not go with the others with a ValueError traceback (`--run --cfg
job`, `--resolve` alone), runs the job as if a flag were not there (`--package` without `--cfg`),
or fails in a way that says nothing about afuse (`-cp`, whose configs replace afuse's own). The
flags afuse cannot honour are refused here, each in one line that says what to do instead.
"""

from pathlib import Path

from afuse.errors import ConfigError
from afuse.overrides import SWEEP_FLAGS

PRINT_FLAGS = ("-c", "--cfg", "-i", "--info")
# What one command line does: Hydra takes one of these (--run when none is given).
MODES = {"-r": "--run", "--run": "--run", "-m": "-m", "--multirun": "-m", "-c": "--cfg", "--cfg": "--cfg"}
MODES |= {"-i": "--info", "--info": "--info", "-sc": "-sc", "--shell-completion": "-sc"}


def check_flags(command, args: list[str]) -> None:
    """`command` is an afuse.commands.Command; `args` its command line, flags first."""
    flags = {arg for arg in args if arg.startswith("-")}
    if command.no_sweep and flags & set(SWEEP_FLAGS):
        raise ConfigError(f"-m (a sweep) does not apply to afuse {command.name}: {command.no_sweep}; drop -m")
    if flags & set(SWEEP_FLAGS) and flags & set(PRINT_FLAGS):
        raise ConfigError(
            "-m (a sweep) and --cfg / --info (print one config) do not go together: drop -m and "
            "give one value per key to see a job's config"
        )
    for check in (_unsupported, _modes, _print_options, _config_dir, _config_name):
        check(command, args, flags)


def _unsupported(command, args, flags) -> None:
    if "--experimental-rerun" in flags:
        raise ConfigError(
            "--experimental-rerun reads a pickled config, and afuse never unpickles a file; a run's own "
            f"config.yaml reruns it: afuse {command.name} --config-dir <run dir> --config-name config "
            "+hydra=default (README: Rerunning a run from its record)"
        )
    if flags & {"-cp", "--config-path"}:
        raise ConfigError(
            "-cp/--config-path replaces afuse's own configs (conf/), which every command is composed "
            "from; add a folder of your own with --config-dir <dir> (read before conf/) or "
            "hydra.searchpath=[file:///<dir>]"
        )


def _modes(command, args, flags) -> None:
    """`--run --cfg job`: Hydra's "Only one of --run, --multirun, --cfg, --info and
    --shell_completion can be specified" traceback."""
    modes = list(dict.fromkeys(MODES[arg] for arg in args if arg in MODES))
    if len(modes) > 1:
        raise ConfigError(
            f"{modes[0]} and {modes[1]} do not go together: one command line runs (--run, the default), "
            "sweeps (-m) or prints (--cfg, --info); keep one"
        )


def _print_options(command, args, flags) -> None:
    """--resolve alone was Hydra's ValueError traceback; --package alone ran the job without a word."""
    printing = flags & {"-c", "--cfg"}
    if "--resolve" in flags and not printing and not flags & {"-h", "--help"}:
        raise ConfigError("--resolve fills in the ${...} values of the config --cfg prints: add --cfg job")
    if flags & {"-p", "--package"} and not printing:
        raise ConfigError("--package picks the part of the config --cfg prints: add --cfg job")


def _config_dir(command, args, flags) -> Path | None:
    """Hydra's "Additional config directory ... not found", exit 1 and a HYDRA_FULL_ERROR hint."""
    folder = _value(args, ("-cd", "--config-dir"))
    if folder is not None and not Path(folder).is_dir():
        raise ConfigError(
            f"--config-dir {folder}: no such folder; give a folder of configs (a run directory holds "
            "its config.yaml)"
        )
    return None if folder is None else Path(folder)


def _config_name(command, args, flags) -> None:
    """`afuse train-adapter -cn fuse` composed fuse's config and ran train-adapter over it; a name
    found nowhere was Hydra's "Cannot find primary config", exit 1."""
    name = _value(args, ("-cn", "--config-name"))
    if name is None or name == command.config_name:
        return
    folder = _config_dir(command, args, flags)
    if folder is None:
        raise ConfigError(
            f"-cn/--config-name {name}: afuse {command.name} composes its own config "
            f"(conf/{command.config_name}.yaml); -cn names a config in --config-dir <dir>, e.g. a run's "
            "record: --config-dir <run dir> --config-name config"
        )
    if not any((folder / f"{name}{suffix}").is_file() for suffix in ("", ".yaml")):
        raise ConfigError(
            f"-cn/--config-name {name}: no {name}.yaml in --config-dir {folder}; give the name of a "
            "config in it (a run directory holds config.yaml: --config-name config)"
        )


def _value(args: list[str], names: tuple[str, ...]) -> str | None:
    """The value given to a flag (the word after it), or None."""
    for index, arg in enumerate(args[:-1]):
        if arg in names:
            return args[index + 1]
    return None
