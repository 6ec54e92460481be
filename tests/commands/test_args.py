"""How a command line becomes Hydra overrides (afuse/commands/__init__.py)."""

import shlex

import pytest

from afuse.cli import main
from afuse.commands import COMMANDS
from afuse.errors import ConfigError


def test_a_bare_first_word_sets_the_positional_key():
    assert COMMANDS["list"].hydra_args(["runs", "paths.runs=x"]) == ["what=runs", "paths.runs=x"]
    assert COMMANDS["list"].hydra_args(["what=tasks"]) == ["what=tasks"]
    assert COMMANDS["list"].hydra_args(["--help"]) == ["--help"]
    assert COMMANDS["list"].hydra_args(["--cfg", "job", "runs"]) == ["--cfg", "job", "what=runs"]


def test_a_path_key_takes_its_value_as_path_beside_its_other_settings():
    args = ["run=r", "file=a=b.tsv", "file.format=tsv", "+file=x"]
    assert COMMANDS["evaluate"].hydra_args(args) == [
        "run=r",
        "file.path=a=b.tsv",
        "file.format=tsv",
        "+file=x",
    ]
    assert COMMANDS["train-adapter"].hydra_args(["task=rte", "file=x"]) == ["task=rte", "file=x"]


def test_a_free_mapping_takes_new_keys_without_plus():
    """data.per_task / model.config hold keys of the user's choosing: written as conf/data's comment
    shows them (`data.per_task={mnli: {...}}`), Hydra refused them ("Key 'mnli' is not in struct",
    exit 1). They go to Hydra as `++` (add or override); everything else is left as typed."""
    args = [
        "data.per_task={mnli: {max_train_examples: 4000}}",
        "data.per_task.rte.max_train_examples=10",
        "model.config.hidden_dropout_prob=0.2",
        "+data.per_task.cb.max_train_examples=5",
        "data.per_task_x=1",
        "data.max_train_examples=3",
    ]
    assert COMMANDS["train-adapter"].hydra_args(args) == [
        "++data.per_task={mnli: {max_train_examples: 4000}}",
        "++data.per_task.rte.max_train_examples=10",
        "++model.config.hidden_dropout_prob=0.2",
        "+data.per_task.cb.max_train_examples=5",
        "data.per_task_x=1",
        "data.max_train_examples=3",
    ]


@pytest.mark.parametrize("flags", [["-m", "--cfg", "job"], ["--multirun", "-c", "job"], ["-m", "--info"]])
def test_a_sweep_flag_with_a_print_flag_is_one_line(flags, capsys):
    """Hydra raises a ValueError traceback for `-m ... --cfg job`."""
    with pytest.raises(SystemExit) as exit_:
        main(["train-adapter", "task=rte,cb", *flags])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith(
        "afuse train-adapter: error: -m (a sweep) and --cfg / --info (print one config) do not go"
    )


@pytest.fixture
def hydra_config_restored():
    """Hydra's --help leaves its config in the HydraConfig singleton (a job restores it): later
    tests in this process would read this command line's overrides."""
    from hydra.core.hydra_config import HydraConfig

    before = HydraConfig.instance().cfg
    yield
    HydraConfig.instance().cfg = before


def test_help_lists_the_groups_the_command_reads(capsys, hydra_config_restored):
    """Hydra's help lists every folder of conf/: train-adapter's showed fusion and mode, which it
    does not read (and refuses: afuse.overrides)."""
    with pytest.raises(SystemExit):
        main(["train-adapter", "--help"])
    text = capsys.readouterr().out
    assert "adapter: houlsby, pfeiffer" in text and "task: argument, boolq" in text
    assert "fusion:" not in text.split("== Config ==")[0] and "mode:" not in text
    with pytest.raises(SystemExit):
        main(["fuse", "--help"])
    assert "fusion: dynamic, static" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("override", "values"), [("task=rte,cb", "2 values"), ("seed=range(1,4)", "3 values")]
)
def test_a_sweep_value_without_the_sweep_flag_says_to_add_it(override, values, capsys):
    """Hydra answered `task=rte,cb` without -m with "Ambiguous value for argument", exit 1 and a
    HYDRA_FULL_ERROR hint: a researcher who forgot -m should read how to run the sweep."""
    with pytest.raises(SystemExit) as exit_:
        main(["train-adapter", override, "model=tiny"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "HYDRA_FULL_ERROR" not in err
    assert err.startswith(f"afuse train-adapter: error: {override} gives {values}")
    assert f"afuse train-adapter -m {shlex.quote(override)} model=tiny" in err


def test_a_list_value_is_not_taken_for_a_sweep(capsys, hydra_config_restored):
    """`fusion.sources=[rte,cb]` is one value, a list: it composes without -m."""
    main(["fuse", "target=rte", "model=tiny", "fusion.sources=[rte,cb]", "--cfg", "job"])
    assert "  - rte\n  - cb\n" in capsys.readouterr().out


@pytest.mark.parametrize("override", ["task=rte]", "trainer.lr=1e-4'", "task=rte=cb"])
def test_an_override_hydra_cannot_parse_is_one_line_naming_it(override, capsys):
    """Hydra's parse error ended with exit 1 and a HYDRA_FULL_ERROR hint, like a crash."""
    with pytest.raises(SystemExit) as exit_:
        main(["train-adapter", "model=tiny", override])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "HYDRA_FULL_ERROR" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith(f"afuse train-adapter: error: cannot read {override!r}: ")
    assert "override_grammar" in err


M_REFUSED = "-m (a sweep) does not apply to afuse"
ONCE = "does one thing once:"


@pytest.mark.parametrize(
    ("argv", "start", "end"),
    [
        (["export", "-m", "run=a,b", "out=x"], f"{M_REFUSED} export: it writes one run to one new folder", "; drop -m"),
        (["list", "--multirun", "what=runs"], f"{M_REFUSED} list: it prints what there is, once", "; drop -m"),
        # the driver itself launched as a job of the launcher meant for its jobs (SLURM: on a node)
        (["run", "-m", "experiment=cpu_small"], f"{M_REFUSED} run: it launches the preset's sweeps itself", "; drop -m"),
        # a sweep value said "add -m (afuse export -m run=a,b ...)", which the lines above refuse
        (["export", "run=a,b", "out=x"], f"run=a,b gives 2 values, but afuse export {ONCE} it writes one run", "; give one value"),
        (["run", "experiment=cpu_small,cpu_minilm"], f"experiment=cpu_small,cpu_minilm gives 2 values, but afuse run {ONCE}", "; give one value"),
    ],
)  # fmt: skip
def test_a_sweep_of_a_command_that_runs_once_is_one_line(argv, start, end, capsys):
    """`afuse export -m run=a,b out=x` exported a into x, then failed on b: x was not empty."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"afuse {argv[0]}: error: {start}")
    assert err.rstrip().endswith(end) and len(err.splitlines()) == 1


def test_the_sweep_flag_goes_anywhere_on_the_line():
    """`afuse train-adapter model=tiny -m task=rte,cb` ended in Hydra's argparse usage text
    ("unrecognized arguments: task=rte,cb"): its overrides end at the first flag after them."""
    args = ["model=tiny", "-m", "task=rte,cb", "--multirun"]
    assert COMMANDS["train-adapter"].hydra_args(args) == ["-m", "--multirun", "model=tiny", "task=rte,cb"]
    assert COMMANDS["list"].hydra_args(["runs", "-m"]) == ["-m", "what=runs"]


@pytest.mark.parametrize("flag", [[], ["-m"]])
@pytest.mark.parametrize(
    "interval, listed",
    [("trainer.lr=interval(0.1,0.2)", "trainer.lr=0.1,0.2"), ("seed=interval(1, 3)", "seed=1,3")],
)
def test_an_interval_sweep_is_refused_naming_what_the_sweeper_runs(flag, interval, listed, capsys):
    """`-m trainer.lr=interval(0.1,0.2)` ended in Hydra's traceback (BasicSweeper does not support
    INTERVAL_SWEEP); without -m it was told to add -m, which then failed the same way. The list it
    suggests is of the interval's own ends (it once offered learning rates for seed=)."""
    with pytest.raises(SystemExit) as exit_:
        main(["train-adapter", *flag, "model=tiny", interval])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"afuse train-adapter: error: {interval}: ")
    assert "add -m" not in err and f"-m {listed} " in err


def test_a_glob_sweep_of_a_group_is_checked_like_its_options(capsys):
    """`-m model=glob(ti*)` ended in Hydra's traceback ("ConfigLoader is not set") in afuse's own
    check of the overrides: a glob lists its options only inside a running app."""
    from afuse.overrides import check_overrides, check_sweep_values

    check_overrides("train_adapter", ["-m", "model=glob(ti*)", "task=rte"])  # composes as model=tiny
    with pytest.raises(ConfigError, match=r"^model=glob\(ti\*\) gives 1 value, one job each"):
        check_sweep_values("train-adapter", ["model=glob(ti*)", "task=rte"])
    with pytest.raises(ConfigError, match=r"^model=glob\(nothing\*\) matches no model; valid: .*tiny"):
        check_overrides("train_adapter", ["-m", "model=glob(nothing*)"])
    # Hydra launched 0 jobs for these and exited 0, as if the sweep were done.
    with pytest.raises(ConfigError, match=r"^seed=glob\(\*\): glob\(\) picks options of a config group"):
        check_sweep_values("train-adapter", ["-m", "seed=glob(*)", "task=rte"])
    with pytest.raises(ConfigError, match=r"^task=glob\(nothing\*\) matches no task"):
        check_sweep_values("train-adapter", ["-m", "task=glob(nothing*)"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["train-adapter", "rte", "model=tiny"],
            "'rte' is not a setting (key=value): did you mean task=rte?",
        ),
        (["fuse", "model=tiny", "rte"], "'rte' is not a setting (key=value): did you mean target=rte?"),
        (
            ["list", "runs", "extra"],
            "'extra' is not a setting (key=value); `afuse list --help` lists the keys",
        ),
    ],
)
def test_a_bare_word_is_one_line_naming_the_setting_it_may_mean(argv, message, capsys):
    """`afuse train-adapter rte` ended in Hydra's parse error ("missing EQUAL"), exit 1."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert capsys.readouterr().err == f"afuse {argv[0]}: error: {message}\n"


def test_the_values_of_hydras_flags_are_not_bare_words(capsys, hydra_config_restored):
    main(["train-adapter", "--cfg", "job", "model=tiny", "task=rte"])
    assert "name: rte" in capsys.readouterr().out


def test_a_glob_sweep_picks_a_researchers_own_tasks_from_the_search_path(tmp_path):
    # `-m task=glob(my*) hydra.searchpath=[file:///my/conf]` was refused: the check listed conf/task/ only.
    from afuse.overrides import check_sweep_values, parse_overrides, sweep_values

    (tmp_path / "task").mkdir()
    for name in ("mysent", "mypair"):
        (tmp_path / "task" / f"{name}.yaml").write_text(f"name: {name}\n")
    searchpath = f"hydra.searchpath=[file://{tmp_path}]"
    check_sweep_values("train-adapter", ["-m", "task=glob(my*)", searchpath])
    (glob,) = parse_overrides(["task=glob(my*)"])
    assert sweep_values(glob, [tmp_path]) == ["mypair", "mysent"]
    assert "rte" in sweep_values(parse_overrides(["task=glob(*)"])[0], [tmp_path])  # afuse's own too
    with pytest.raises(ConfigError, match="matches no task"):
        check_sweep_values("train-adapter", ["-m", "task=glob(my*)"])  # without the search path
    # Hydra's sweeper lists options without the command line's search path (it launched 0 jobs,
    # exit 0): the glob reaches it as the list it picks.
    from afuse.overrides import expand_own_globs

    line = ["-m", "task=glob(my*)", "seed=1,2", searchpath]
    assert expand_own_globs(line) == ["-m", "task=mypair,mysent", "seed=1,2", searchpath]
    assert expand_own_globs(["-m", "task=glob(r*)"]) == ["-m", "task=glob(r*)"]  # Hydra's own to expand
