"""Command-line overrides checked against the configs before Hydra runs a command.

    check_overrides("train_adapter", ["task=rte", "+trainer.max_epoch=3"])
    # ConfigError: unknown key trainer.max_epoch (no config defines it); did you mean trainer.max_epochs?

Hydra accepts `+key=value` for any key (and suggests it after a typo), so a misspelt setting
would be added and silently ignored; and an unknown option of a config group (`model=tinny`)
ends in a message buried under Hydra's config search path. Here the config is composed from the
group choices alone, and every other override must name a key it holds.
"""

import difflib
import shlex
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from afuse.errors import ConfigError
from afuse.paths import conf_dir

_ABSENT = object()
# Mappings whose keys are free: each key is passed on as it is (model.config to transformers'
# config of a model built from config, data.per_task.<task> to that task's data settings).
OPEN_MAPPINGS = ("model.config", "data.per_task")
SWEEP_FLAGS = ("-m", "--multirun")  # Hydra's flag for a multirun


def check_overrides(config_name: str, argv: list[str]) -> None:
    overrides = parse_overrides(argv)
    hydra_overrides = [o for o in overrides if o.key_or_group.startswith("hydra")]
    _check_launcher_values(hydra_overrides)
    _check_launcher_keys(config_name, hydra_overrides)
    _check_working_dir(hydra_overrides)
    _check_env_set(hydra_overrides)
    others = [o for o in overrides if not o.key_or_group.startswith("hydra") and not o.is_delete()]
    _check_deletions([o for o in overrides if not o.key_or_group.startswith("hydra") and o.is_delete()])
    groups = group_names()
    own = searchpath_dirs(hydra_overrides)
    _check_searchpath(own)
    _check_no_null_choice([o for o in others if o.key_or_group in groups], own)
    _check_groups_are_read(config_name, [o for o in others if o.key_or_group in groups])
    preset = _preset_given(others)
    whole_preset = _prepares_whole_preset(config_name, others, preset)
    _check_settings_are_read(config_name, others, preset, whole_preset)
    keys = [o for o in others if o.key_or_group not in groups]
    if preset:
        _check_preset_file(preset, own)
    choices = [_first_choice(o, own) for o in others if o.key_or_group in groups]
    if not keys and not hydra_overrides and all(map(_option_file_exists, choices)):
        return  # nothing a composed config would tell (Hydra composes the command's config anyway)
    cfg = _compose(config_name, [*choices, *(o.input_line for o in hydra_overrides)])
    if cfg is None:
        return
    if preset:
        _check_preset_keys_are_read(config_name, cfg, keys, preset, whole_preset)
    for override in keys:
        check_key(cfg, override.key_or_group)


# Hydra's flags that take the next word as their value (--info takes one of its topics, or none).
VALUE_FLAGS = ("-c", "--cfg", "-p", "--package", "-cp", "--config-path", "-cn", "--config-name")
VALUE_FLAGS += ("-cd", "--config-dir", "--experimental-rerun")
INFO_FLAGS = ("-i", "--info")
INFO_TOPICS = ("all", "config", "defaults", "defaults-tree", "plugins", "searchpath")


def split_flags(argv: list[str]) -> tuple[list[str], list[str]]:
    """Hydra's flags, each with its value, and the other words, wherever they were typed: Hydra's
    argparse takes the overrides as one run, so a flag after the first one ended them
    ("unrecognized arguments: model=tiny"); the flags go first. `--info` without a topic gets its
    default, `all`, so that the override after it is not read as its topic."""
    flags, overrides, rest = [], [], list(argv)
    while rest:
        word = rest.pop(0)
        if not word.startswith("-"):  # an override (or `~key`); `--cfg=job` is a flag
            overrides.append(word)
        elif word in VALUE_FLAGS and rest:
            flags += [word, rest.pop(0)]
        elif word in INFO_FLAGS:
            topic_given = rest and "=" not in rest[0] and not rest[0].startswith("-")
            flags += [word, rest.pop(0) if topic_given else "all"]
        else:
            flags.append(word)
    return flags, overrides


def check_bare_words(config_name: str, argv: list[str]) -> None:
    """`afuse train-adapter rte` ended in Hydra's parse error ("missing EQUAL at '<EOF>"), exit 1:
    a word that is neither a flag, its value, nor key=value names the setting it may be."""
    previous = None
    for arg in argv:
        if previous in INFO_FLAGS and arg not in INFO_TOPICS and "=" not in arg and not arg.startswith("-"):
            raise ConfigError(
                f"--info {arg}: not one of its topics ({' '.join(INFO_TOPICS)}); e.g. --info defaults"
            )
        flag_value = previous in VALUE_FLAGS or (previous in INFO_FLAGS and arg in INFO_TOPICS)
        previous = arg
        if not (flag_value or arg.startswith(("-", "~")) or "=" in arg):
            raise ConfigError(f"{arg!r} is not a setting (key=value){_meant(config_name, arg)}")


def _meant(config_name: str, word: str) -> str:
    from afuse.config import task_names

    primary = set(OmegaConf.load(conf_dir() / f"{config_name}.yaml"))  # set(): `in` skips a ??? value
    key = "target" if "target" in primary else "task" if "task" in command_groups(config_name) else None
    if key and word in task_names():
        return f": did you mean {key}={word}?"
    return f"; `afuse {config_name.replace('_', '-')} --help` lists the keys"


GRAMMAR = "https://hydra.cc/docs/1.2/advanced/override_grammar/basic"


def parse_overrides(argv: list[str]) -> list:
    """The command line's key=value overrides as Hydra parses them; one it cannot parse is one
    line naming it (Hydra's own message ends in exit 1 and a HYDRA_FULL_ERROR hint)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser, overrides = OverridesParser.create(), []
    for text in (arg for arg in argv if ("=" in arg or arg.startswith("~")) and not arg.startswith("-")):
        try:
            overrides += parser.parse_overrides([text])
        except OverrideParseException as error:
            raise ConfigError(f"cannot read {text!r}: {parse_problem(error)}") from None
    return overrides


def parse_problem(error) -> str:
    """Hydra's reason without its frame lines; a lexer error has none worth quoting."""
    skipped = ("Error parsing override", "LexerNoViableAltException", "See ")
    lines = [line for line in str(error).splitlines() if line.strip(" ^") and not line.startswith(skipped)]
    reason = lines[0] if lines else "an unmatched quote or bracket"
    return f"{reason}; quote a value that holds , [ ] ( ) = or quotes (key='a,b'); grammar: {GRAMMAR}"


def check_sweep_values(command: str, argv: list[str], no_sweep: str | None = None) -> None:
    """`afuse train-adapter task=rte,cb` without -m: Hydra's answer is "Ambiguous value for
    argument", exit 1 and a HYDRA_FULL_ERROR hint; say how to run the sweep instead. An interval
    (which only a sampling sweeper runs) ended in a traceback with -m: say what to give."""
    overrides = parse_overrides(argv)
    own = searchpath_dirs(overrides)
    for override in overrides:
        if override.is_interval_sweep():
            # The example takes the interval's own ends as typed (Hydra's IntervalSweep makes them floats).
            ends = override.input_line.partition("interval(")[2].rpartition(")")[0].replace(" ", "")
            raise ConfigError(
                f"{override.input_line}: afuse's sweeper runs a list of values, it does not sample an "
                f"interval; list them with -m, e.g. -m {override.get_key_element()}={ends} (or range(1,4) "
                "for integers)"
            )
        if override.is_sweep_override():
            sweep_values(override, own)  # a glob() that picks nothing: Hydra launched 0 jobs, exit 0
    if any(arg in SWEEP_FLAGS for arg in argv):
        return
    for override in overrides:
        if override.is_sweep_override() and not override.key_or_group.startswith("hydra"):
            if no_sweep:  # a command that does one thing once (its -m is refused): no -m to suggest
                raise ConfigError(
                    f"{override.input_line} gives {_value_count(override, own)}, but afuse {command} "
                    f"does one thing once: {no_sweep}; give one value"
                )
            sweep = f"afuse {command} -m {shlex.join(argv)}"
            raise ConfigError(
                f"{override.input_line} gives {_value_count(override, own)}, one job each, which only a sweep "
                f"runs: add -m ({sweep}), or give one value (a list is written key=[a,b])"
            )


def expand_own_globs(argv: list[str]) -> list[str]:
    """`-m task=glob(my*) hydra.searchpath=[file:///my/conf]` as `task=mypair,mysent`: Hydra's
    sweeper lists a group's options without the command line's search path, so such a glob
    launched 0 jobs and exited 0. Without own folders the line is Hydra's to expand, unchanged."""
    from hydra.core.override_parser.types import Glob

    own = searchpath_dirs(parse_overrides(argv))
    if not own:
        return argv
    expanded = []
    for arg in argv:
        (override,) = parse_overrides([arg]) or [None]
        if override is not None and isinstance(override.value(), Glob):
            arg = f"{override.get_key_element()}={','.join(sweep_values(override, own))}"
        expanded.append(arg)
    return expanded


def _value_count(override, own_dirs: list[Path]) -> str:
    count = len(sweep_values(override, own_dirs))
    return f"{count} value{'s' if count != 1 else ''}"


# Settings a command's config holds, but reads only in some cases: `why` says when, `fix` what to do.
#   prepare_data: `model` is there so that a preset's `override /model` composes; the prepared
#                 splits are untokenised, the same for every model. With experiment= and no task=
#                 it readies the preset's jobs (afuse.offline_ready): model= and experiment.* are
#                 read then.
#   status, report without experiment=: every run under paths.runs is listed as it was made; the
#                 model, data and trainer settings only compose a preset's jobs (status: its
#                 "To launch" lines, with logger=).
_UNREAD = {
    "prepare_data": (
        ("model",),
        "afuse prepare-data writes a task's splits untokenised, the same for every model",
    ),
}
_READ_WITH_PRESET = {
    "status": ("model", "data", "trainer", "logger"),
    "report": ("model", "data", "trainer"),
}
# Commands that run no preset's jobs: what a preset brings besides their own groups and keys
# (trainer.*, experiment.*: training and sweep settings) is not read by them.
_NO_JOBS = ("evaluate", "predict", "prepare_data")


def _check_deletions(deletions) -> None:
    """`~trainer.lr` ended in OmegaConf's traceback once the command read the key: every setting is
    read (its default is in conf/). Entries of a free mapping (a preset's data.per_task.<task>)
    and the preset choice itself may go."""
    for override in deletions:
        key = override.key_or_group
        if key == "experiment" or any(key.startswith(f"{mapping}.") for mapping in OPEN_MAPPINGS):
            continue
        raise ConfigError(
            f"~{key}: afuse reads every setting it has (its default is in conf/), so without it the command "
            f"would stop; set it instead ({key}=<value>)"
        )


def _check_no_null_choice(choices, own_dirs: list[Path]) -> None:
    """`task=null`: Hydra's "Config group override must be a string or a list. Got NoneType",
    with a traceback."""
    from hydra.core.override_parser.types import ChoiceSweep

    for override in choices:
        value = override.value()
        values = value.list if isinstance(value, ChoiceSweep) else [value]  # a glob holds no null
        if None in values:
            group = override.key_or_group
            raise ConfigError(
                f"{_shown(override)}: a config group takes one of its options, not null: "
                f"{' '.join(group_options(group, own_dirs))}; or leave {group}= out"
            )


def _preset_given(overrides) -> str | None:
    for override in overrides:
        if override.key_or_group == "experiment" and override.value() not in (None, "null"):
            return _first_choice(override).partition("=")[2]
    return None


def _check_preset_file(preset: str, own_dirs: list[Path]) -> None:
    """The preset's file before Hydra reads it (afuse.preset_check); an unknown name is left to
    the composition below, which lists the valid ones."""
    from afuse.preset_check import check_preset_file

    path = option_file("experiment", preset, own_dirs)
    if path is not None:
        check_preset_file(path)


def _shown(override) -> str:
    return override.input_line.lstrip("+~")


def _prepares_whole_preset(config_name: str, overrides, preset: str | None) -> bool:
    """`afuse prepare-data experiment=<preset>` without task=: it composes the preset's jobs (their
    model, experiment.* and data.* settings) to ready what they read."""
    return (
        config_name == "prepare_data"
        and bool(preset)
        and not any(o.key_or_group == "task" for o in overrides)
    )


def _check_settings_are_read(
    config_name: str, overrides, preset: str | None, whole_preset: bool = False
) -> None:
    """`afuse status model=minilm` without a preset, `afuse prepare-data model=minilm`: accepted,
    and ignored without a word."""
    command = config_name.replace("_", "-")
    unread, why = ((), "") if whole_preset else _UNREAD.get(config_name, ((), ""))
    if not preset and config_name in _READ_WITH_PRESET:
        unread = _READ_WITH_PRESET[config_name]
        why = (
            f"without experiment=<preset> afuse {command} lists every run under paths.runs as it was made "
            f"(these settings compose a preset's jobs)"
        )
    for override in overrides:
        if override.key_or_group.split(".")[0] in unread:
            fix = (
                "add experiment=<preset> (`afuse list presets`) or leave it out"
                if "preset" in why
                else "leave it out"
            )
            raise ConfigError(f"{_shown(override)}: {why}, so it would be ignored; {fix}")


def _check_preset_keys_are_read(
    config_name: str, cfg: DictConfig, keys, preset: str, whole_preset: bool = False
) -> None:
    """`afuse evaluate run=... experiment=cpu_small trainer.max_epochs=1`: the key exists only
    because the preset brought it, for the jobs it trains; this command reads none of it."""
    if config_name not in _NO_JOBS:
        return
    primary = OmegaConf.load(conf_dir() / f"{config_name}.yaml")
    own = (set(primary) | set(command_groups(config_name))) - {"defaults", "experiment"}
    own |= {"experiment"} if whole_preset else set()  # experiment.tasks=[...]: which tasks its jobs read
    for override in keys:
        top = override.key_or_group.split(".")[0]
        if top in cfg and top not in own:
            command = config_name.replace("_", "-")
            raise ConfigError(
                f"{_shown(override)}: afuse {command} reads no {top} settings (experiment={preset} has them "
                "for the runs it trains), so it would be ignored; leave it out"
            )


def _check_working_dir(hydra_overrides) -> None:
    """hydra.job.chdir=true ran the job in its log folder: relative paths.* (runs/, data/) were
    written there, one folder per command, where stage 2, status and report never look."""
    for override in hydra_overrides:
        if override.key_or_group == "hydra.job.chdir" and override.value() not in (False, "false", None):
            raise ConfigError(
                f"{override.input_line}: afuse writes where paths.* say (relative paths from the folder "
                "you run it in), so running in Hydra's log folder would put runs/ and data/ there, where "
                "no later command looks; leave it out (hydra.run.dir or paths.logs say where the logs go)"
            )


def _check_env_set(hydra_overrides) -> None:
    """`hydra.job.env_set.FOO=1` ended in Hydra's "Key 'FOO' is not in struct" over six lines, exit 1:
    the mapping starts empty, so a variable is added to it with `+`."""
    for override in hydra_overrides:
        key = override.key_or_group
        if key.startswith("hydra.job.env_set.") and override.input_line.startswith(key):
            raise ConfigError(
                f"{override.input_line}: hydra.job.env_set starts empty, so a job's environment variable "
                f"is added with +: +{override.input_line}"
            )


def _check_launcher_keys(config_name: str, hydra_overrides) -> None:
    """`-m hydra.launcher.n_jobs=2` without hydra/launcher=local_parallel: Hydra's "Key 'n_jobs'
    is not in struct", exit 1 and a HYDRA_FULL_ERROR hint. Name the launchers that have the key."""
    keys = [o for o in hydra_overrides if o.key_or_group.startswith("hydra.launcher.")]
    if not keys:
        return
    chosen = [o for o in hydra_overrides if o.key_or_group == "hydra/launcher"]
    launcher = _first_choice(chosen[-1]).partition("=")[2] if chosen else None
    settings = _launcher_settings(config_name, launcher)
    for override in keys:
        key = override.key_or_group.removeprefix("hydra.launcher.").split(".")[0]
        if settings is None or key in settings:
            continue  # settings None: an unknown launcher, which the composition names
        options = group_options("hydra/launcher")
        having = [f"hydra/launcher={o}" for o in options if key in (_launcher_settings(config_name, o) or ())]
        close = difflib.get_close_matches(key, settings, n=1)
        hint = (
            f"did you mean hydra.launcher.{close[0]}?" if close
            else f"{' or '.join(having)} has it" if having
            else f"its settings: {' '.join(sorted(settings))}"
        )  # fmt: skip
        name = f"{launcher} launcher" if launcher else "local launcher (the default)"
        raise ConfigError(f"{override.input_line}: the {name} has no {key} setting; {hint}")


def _launcher_settings(config_name: str, launcher: str | None) -> set[str] | None:
    """The keys of hydra.launcher with that launcher (None: the default), or None if it is unknown."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException

    overrides = [] if launcher is None else [f"hydra/launcher={launcher}"]
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            return set(compose(config_name, overrides=overrides, return_hydra_config=True).hydra.launcher)
    except HydraException:
        return None


def _check_launcher_values(hydra_overrides) -> None:
    """Values the sweep process reads before any job runs (where afuse.validate never sees them):
    joblib's n_jobs=0 ended in its ValueError traceback."""
    for override in hydra_overrides:
        if override.key_or_group != "hydra.launcher.n_jobs" or override.is_sweep_override():
            continue
        value = override.value()
        if not isinstance(value, int) or isinstance(value, bool) or value == 0:
            raise ConfigError(
                f"hydra.launcher.n_jobs must be a non-zero integer (got {value!r}): the number of "
                "parallel jobs, or -1 for one per CPU core; e.g. hydra.launcher.n_jobs=2"
            )


def group_names() -> set[str]:
    """Config groups (folders under conf/, also nested ones: hydra/launcher)."""
    root = conf_dir()
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_dir()}


def _check_groups_are_read(config_name: str, choices) -> None:
    """`afuse train-adapter fusion=static`: Hydra's own hint, `+fusion=static`, would add a group
    the command never reads, so the setting would be silently ignored; refuse both."""
    primary = OmegaConf.load(conf_dir() / f"{config_name}.yaml")
    read = set(command_groups(config_name))
    command = config_name.replace("_", "-")
    for override in choices:
        group = override.key_or_group
        if group in read:
            continue
        choice = f"{group}={_first_choice(override).partition('=')[2]}"  # without Hydra's `+`
        hint = (
            f"did you mean target={choice.partition('=')[2]}?"
            if group == "task" and "target" in set(primary)  # `in primary` alone skips a `???` value
            else f"its groups: {' '.join(sorted(read - {'hydra'}))}"
        )
        raise ConfigError(f"{choice}: afuse {command} reads no {group} group, so it would be ignored; {hint}")


def command_groups(config_name: str) -> list[str]:
    """The config groups a command reads: those in its primary config's defaults list."""
    primary = OmegaConf.load(conf_dir() / f"{config_name}.yaml")
    return [_group_of(entry) for entry in primary.get("defaults", []) if isinstance(entry, DictConfig)]


def groups_help(config_name: str) -> str:
    """`group: option, ...` for each group `afuse <command> --help` lists (conf/hydra/default.yaml):
    the command's own, not every folder of conf/ as Hydra's default help does."""
    lines = []
    for group in sorted(set(command_groups(config_name)) - {"hydra"}):
        lines.append(f"{group}: {', '.join(group_options(group))}")
    return "\n".join(lines)


def group_options(group: str, own_dirs: list[Path] = ()) -> list[str]:
    """The options of a config group: its conf/<group>/*.yaml files, and <dir>/<group>/*.yaml in
    the folders a command line adds (a researcher's own tasks and presets), by name."""
    folders = [conf_dir(), *own_dirs]
    return sorted({path.stem for folder in folders for path in (folder / group).glob("*.yaml")})


def option_file(group: str, option: str, own_dirs: list[Path] = ()) -> Path | None:
    """The file `<group>=<option>` reads: conf/<group>/<option>.yaml, else the first of the
    command line's own folders that has it (Hydra reads afuse's conf/ first)."""
    folders = (conf_dir(), *own_dirs)
    return next((p for f in folders if (p := f / group / f"{option}.yaml").is_file()), None)


def searchpath_dirs(overrides) -> list[Path]:
    """The folders `hydra.searchpath=[file:///my/conf]` adds, read off the parsed command line
    (before Hydra runs, no config loader knows them yet). Hydra reads an entry without a scheme
    (`[/my/conf]`) as a folder too; `pkg://` entries are packages, not folders."""
    folders = []
    for override in overrides:
        if override.key_or_group == "hydra.searchpath" and not override.is_sweep_override():
            value = override.value()
            for entry in value if isinstance(value, list) else [value]:
                entry = str(entry)
                if entry.startswith("file://") or "://" not in entry:
                    folders.append(Path(entry.removeprefix("file://")))
    return folders


def _check_searchpath(folders: list[Path]) -> None:
    """A search path folder that is not there was skipped by Hydra without a word: the command then
    said "unknown task 'mine' (... add hydra.searchpath=...)" to a researcher who had added one,
    with a typo or `file://my/conf` (two slashes: a relative my/conf)."""
    for folder in folders:
        if not folder.is_dir():
            raise ConfigError(
                f"hydra.searchpath: {folder} is not a folder here ({folder.resolve()} does not exist), so "
                "nothing in it would be found; give the folder that holds your task/ or experiment/, "
                "e.g. hydra.searchpath=[file:///my/conf] (file:// then an absolute path)"
            )


def _group_of(defaults_entry: DictConfig) -> str:
    """`{model: minilm}` -> model; `{override /trainer: full}` -> trainer."""
    return str(next(iter(defaults_entry))).removeprefix("override ").lstrip("/")


def _first_choice(override, own_dirs: list[Path] = ()) -> str:
    """`task=rte,cb` composes like `task=rte`: every choice of a sweep has the same keys."""
    value = override.value()
    if override.is_sweep_override():
        value = sweep_values(override, own_dirs)[0]
    return f"{override.get_key_element()}={value}"


def sweep_values(override, own_dirs: list[Path] = ()) -> list[str]:
    """The values a sweep override runs. Hydra lists a glob(...)'s only with the config loader a
    running app has (here it raised "ConfigLoader is not set"): its options are conf/<group>'s
    and those of the command line's own config folders (`own_dirs`, from hydra.searchpath)."""
    from hydra.core.override_parser.types import Glob

    if not isinstance(override.value(), Glob):
        return list(override.sweep_string_iterator())
    group = override.key_or_group
    if not any((folder / group).is_dir() for folder in (conf_dir(), *own_dirs)):
        raise ConfigError(
            f"{override.input_line}: glob() picks options of a config group, and {group} is not one"
        )
    options = group_options(group, own_dirs)
    matched = override.value().filter(options)
    if not matched:
        raise ConfigError(f"{override.input_line} matches no {group}; valid: {' '.join(options)}")
    return matched


def _option_file_exists(choice: str) -> bool:
    """`model=tiny` names conf/model/tiny.yaml (options from elsewhere: Hydra's plugins)."""
    group, _, option = choice.partition("=")
    return (conf_dir() / group / f"{option}.yaml").is_file()


def _compose(config_name: str, overrides: list[str]) -> DictConfig | None:
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException, MissingConfigException

    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            return compose(config_name, overrides=overrides)
    except MissingConfigException as error:
        raise _unknown_option(error) from None
    except HydraException:
        return None  # anything else: Hydra reports it itself when it composes the command's config


def _unknown_option(error) -> ConfigError:
    """`model=tinny` -> "unknown model 'tinny'; valid: ...", without Hydra's search path."""
    missing = str(error.missing_cfg_file or "")
    group, _, option = missing.rpartition("/")
    options = sorted(error.options or [])
    if not group or not options:
        return ConfigError(str(error).split("\n\n")[0])
    hint = difflib.get_close_matches(option, options, n=1)
    from afuse.config import OWN_TASK_HINT

    own_hint = {"task": OWN_TASK_HINT}
    if not hint:  # a name like no shipped preset's: likely the researcher's own, not yet found
        own_hint["experiment"] = (
            f"a preset of your own: add hydra.searchpath=[file:///<dir>] for its <dir>/experiment/{option}.yaml"
        )
    return ConfigError(
        f"unknown {group} {option!r}; valid: {' '.join(options)}"
        + (f" ({own_hint[group]})" if group in own_hint else "")
        + (f"; did you mean {group}={hint[0]}?" if hint else "")
    )


def check_key(cfg: DictConfig, key: str) -> None:
    """Refuse a key `cfg` does not hold, naming the closest one it does."""
    if any(
        key.startswith(f"{mapping}.") and OmegaConf.select(cfg, mapping) is not None
        for mapping in OPEN_MAPPINGS
    ):
        return
    try:
        if OmegaConf.select(cfg, key, default=_ABSENT, throw_on_missing=True) is not _ABSENT:
            return
    except Exception:  # a `???` value to be given (target), or a key under an interpolation
        return  # (task: ${task_spec:...}) that cannot be looked up here: Hydra checks those itself
    # not the mapping the key was meant to go in (data.foo: "did you mean data?")
    candidates = [k for k in _dotted_keys(cfg) if not key.startswith(f"{k}.")]
    hint = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    raise ConfigError(
        f"unknown key {key} (no config defines it, so it would be ignored)"
        + (f"; did you mean {hint[0]}?" if hint else "; `--cfg job` prints every key")
    )


def _dotted_keys(node, prefix: str = "") -> list[str]:
    """Every key of the config, dotted, without resolving interpolations."""
    keys = []
    if isinstance(node, DictConfig):
        for key in node:
            child = node._get_node(key)
            name = f"{prefix}{key}"
            keys.append(name)
            if isinstance(child, DictConfig) and not child._is_interpolation():
                keys += _dotted_keys(child, f"{name}.")
    return keys
