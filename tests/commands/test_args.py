"""How a command line becomes Hydra overrides (afuse/commands/__init__.py)."""

from afuse.commands import COMMANDS


def test_a_bare_first_word_sets_the_positional_key():
    assert COMMANDS["list"].hydra_args(["runs", "paths.runs=x"]) == ["what=runs", "paths.runs=x"]
    assert COMMANDS["list"].hydra_args(["what=tasks"]) == ["what=tasks"]
    assert COMMANDS["list"].hydra_args(["--help"]) == ["--help"]


def test_a_path_key_takes_its_value_as_path_beside_its_other_settings():
    args = ["run=r", "file=a=b.tsv", "file.format=tsv", "+file=x"]
    assert COMMANDS["evaluate"].hydra_args(args) == [
        "run=r",
        "file.path=a=b.tsv",
        "file.format=tsv",
        "+file=x",
    ]
    assert COMMANDS["train-adapter"].hydra_args(["task=rte", "file=x"]) == ["task=rte", "file=x"]
