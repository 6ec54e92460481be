"""Hydra's own flags as a researcher who knows Hydra types them (afuse/cli.py, afuse/overrides.py):
each one works where it is typed, or is refused in one line that says what to do instead."""

import pytest

from afuse.cli import main
from afuse.commands import COMMANDS


@pytest.fixture
def hydra_config_restored():
    """--cfg and --help leave their config in the HydraConfig singleton (a job restores it)."""
    from hydra.core.hydra_config import HydraConfig

    before = HydraConfig.instance().cfg
    yield
    HydraConfig.instance().cfg = before


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["task=rte", "--cfg", "job", "model=tiny"], ["--cfg", "job", "task=rte", "model=tiny"]),
        (
            ["task=rte", "--cfg", "job", "--package", "trainer", "--resolve", "seed=2"],
            ["--cfg", "job", "--package", "trainer", "--resolve", "task=rte", "seed=2"],
        ),
        (["task=rte", "--help", "model=tiny"], ["--help", "task=rte", "model=tiny"]),
        # --info's topic is optional: without one, the next override would be read as its topic
        (["--info", "task=rte"], ["--info", "all", "task=rte"]),
        (["task=rte", "-i", "searchpath", "seed=2"], ["-i", "searchpath", "task=rte", "seed=2"]),
        (
            ["force=true", "--config-dir", "/r", "-cn", "config", "paths.runs=x"],
            ["--config-dir", "/r", "-cn", "config", "force=true", "paths.runs=x"],
        ),
    ],
)
def test_hydras_flags_go_anywhere_on_the_line(args, expected):
    """`afuse train-adapter task=rte --cfg job model=tiny` ended in argparse's usage text and
    "unrecognized arguments: model=tiny": Hydra's overrides end at the first flag after them."""
    assert COMMANDS["train-adapter"].hydra_args(args) == expected


def test_a_print_flag_in_the_middle_prints_the_config(capsys, hydra_config_restored):
    main(["train-adapter", "task=rte", "--cfg", "job", "--package", "trainer", "trainer.lr=0.5"])
    out = capsys.readouterr().out
    assert out.startswith("# @package trainer\n") and "lr: 0.5\n" in out


def test_info_without_a_topic_before_an_override_shows_everything(capsys, hydra_config_restored):
    main(["train-adapter", "--info", "task=rte", "model=tiny"])
    out = capsys.readouterr().out
    assert "Defaults List" in out and "name: rte" in out


REFUSED = [
    # Hydra's ValueError tracebacks
    (["--resolve"], "--resolve fills in the ${...} values of the config --cfg prints: add --cfg job"),
    (
        ["--run", "--cfg", "job"],
        "--run and --cfg do not go together: one command line runs (--run, the default), sweeps (-m) "
        "or prints (--cfg, --info); keep one",
    ),
    (
        ["--cfg", "job", "--info", "defaults"],
        "--cfg and --info do not go together: one command line runs (--run, the default), sweeps (-m) "
        "or prints (--cfg, --info); keep one",
    ),
    # silently ignored: the job ran
    (["--package", "trainer"], "--package picks the part of the config --cfg prints: add --cfg job"),
    # a pickle: afuse never unpickles a file
    (
        ["--experimental-rerun", "x.pickle"],
        "--experimental-rerun reads a pickled config, and afuse never unpickles a file; a run's own "
        "config.yaml reruns it: afuse train-adapter --config-dir <run dir> --config-name config "
        "+hydra=default (README: Rerunning a run from its record)",
    ),
    # Hydra's errors with a HYDRA_FULL_ERROR hint, exit 1
    (
        ["-cp", "/tmp"],
        "-cp/--config-path replaces afuse's own configs (conf/), which every command is composed "
        "from; add a folder of your own with --config-dir <dir> (read before conf/) or "
        "hydra.searchpath=[file:///<dir>]",
    ),
    (
        ["--config-dir", "/no/such/folder"],
        "--config-dir /no/such/folder: no such folder; give a folder of configs (a run directory "
        "holds its config.yaml)",
    ),
    (
        ["-cn", "fuse"],
        "-cn/--config-name fuse: afuse train-adapter composes its own config (conf/train_adapter.yaml); "
        "-cn names a config in --config-dir <dir>, e.g. a run's record: --config-dir <run dir> "
        "--config-name config",
    ),
    (
        ["--info", "bogus"],
        "--info bogus: not one of its topics (all config defaults defaults-tree plugins searchpath); "
        "e.g. --info defaults",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("flags", "message"), REFUSED, ids=[" ".join(f) for f, _ in REFUSED])
def test_a_flag_afuse_cannot_honour_is_one_line(flags, message, capsys, tmp_path):
    # no hub, and logs under tmp_path: a job this check failed to stop ends at once, here
    quick = ["data.source=local", f"data.raw_dir={tmp_path}", f"paths.logs={tmp_path}/logs"]
    with pytest.raises(SystemExit) as exit_:
        main(["train-adapter", "task=rte", "model=tiny", *flags, *quick])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == f"afuse train-adapter: error: {message}\n"


def test_a_config_name_in_the_config_dir_is_accepted(tmp_path, capsys, hydra_config_restored):
    """The rerun from a run's record (README) names its config.yaml in --config-dir."""
    from omegaconf import OmegaConf

    from tests.from_conf import compose_config

    cfg = compose_config("train_adapter", ["task=rte", "model=tiny", "seed=7"])
    OmegaConf.save(cfg, tmp_path / "config.yaml")
    main(["train-adapter", "--config-dir", str(tmp_path), "--config-name", "config", "--cfg", "job"])
    assert "seed: 7" in capsys.readouterr().out


def test_changing_into_hydras_log_folder_is_refused(capsys):
    """hydra.job.chdir=true wrote runs/ and data/ into logs/train_adapter/<time>/, where no later
    command (fuse, status, report) looks for them."""
    with pytest.raises(SystemExit) as exit_:
        main(["train-adapter", "task=rte", "model=tiny", "hydra.job.chdir=true"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (
        "afuse train-adapter: error: hydra.job.chdir=true: afuse writes where paths.* say (relative "
        "paths from the folder you run it in), so running in Hydra's log folder would put runs/ and "
        "data/ there, where no later command looks; leave it out (hydra.run.dir or paths.logs say "
        "where the logs go)\n"
    )


def test_a_job_environment_variable_without_plus_says_to_add_it(capsys):
    """README: `afuse run` passes hydra.job.env_set.* on to every job. Typed as written, Hydra
    answered "Key 'FOO' is not in struct" over six lines with exit 1: the mapping starts empty."""
    with pytest.raises(SystemExit) as exit_:
        main(["train-adapter", "task=rte", "model=tiny", "hydra.job.env_set.OMP_NUM_THREADS=1"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (
        "afuse train-adapter: error: hydra.job.env_set.OMP_NUM_THREADS=1: hydra.job.env_set starts "
        "empty, so a job's environment variable is added with +: +hydra.job.env_set.OMP_NUM_THREADS=1\n"
    )


@pytest.mark.parametrize("command", ["train_adapter", "run", "status"])
def test_a_job_logging_choice_replaces_afuses_console(command):
    """hydra/job_logging=disabled (or stdout) was merged under afuse's own logging settings,
    written in conf/hydra/default.yaml itself, and changed nothing: the choice was taken, unread."""
    from tests.from_conf import compose_config

    default = compose_config(command, [], with_hydra=True).hydra
    assert default.job_logging.formatters.console.format == "[%(asctime)s] %(message)s"
    disabled = compose_config(command, ["hydra/job_logging=disabled"], with_hydra=True).hydra
    assert disabled.runtime.choices["hydra/job_logging"] == "disabled"
    assert disabled.job_logging.root.level == "ERROR" and "handlers" not in disabled.job_logging
