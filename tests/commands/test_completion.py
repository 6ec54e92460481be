"""Tab completion through Hydra's completion scripts (afuse/completion.py): `afuse -sc install=bash`
was refused ("unknown key install"), and the script Hydra wrote named the program "afuse
train-adapter", asking `afuse -sc query=bash` on <Tab>, which was an unknown command."""

import pytest

from afuse.cli import main


@pytest.mark.parametrize("argv", [["train-adapter", "-sc", "install=bash"], ["-sc", "install=bash"]])
def test_the_install_script_completes_the_afuse_program(argv, capsys):
    main(argv)
    assert capsys.readouterr().out.rstrip().endswith("-F hydra_bash_completion afuse")


@pytest.mark.parametrize(
    ("line", "shell", "expected"),
    [
        ("afuse tr", "bash", "train-adapter train-multitask"),  # the command word
        ("afuse ", "fish", "prepare-data\ntrain-adapter"),  # fish reads one candidate per line
        (
            "afuse train-adapter model=",
            "bash",
            "model=bert-base-uncased model=minilm model=roberta-base model=tiny",
        ),
        ("afuse fuse fusion.skip", "bash", "fusion.skip_last_layer="),
    ],
)
def test_tab_completes_commands_then_their_groups_and_keys(line, shell, expected, monkeypatch, capsys):
    monkeypatch.setenv("COMP_LINE", line)
    main(["-sc", f"query={shell}"])
    assert capsys.readouterr().out.startswith(expected)


@pytest.mark.parametrize(
    ("line", "shell", "left_out", "kept"),
    [
        (
            "afuse status ",
            "bash",
            ["adapter=", "fusion=", "mode=", "task="],
            ["experiment=", "trainer.", "model="],
        ),
        ("afuse fuse ", "bash", ["task=", "mode="], ["target=", "fusion=", "adapter=", "adapters="]),
        ("afuse list ", "fish", ["model=", "task=", "experiment="], ["what=", "paths."]),
        ("afuse status ad", "bash", ["adapter="], []),
    ],
)
def test_tab_leaves_out_the_groups_a_command_does_not_read(line, shell, left_out, kept, monkeypatch, capsys):
    """Hydra offered every folder of conf/ (`afuse status adapter=`), each of which the command then
    refused as a group it does not read."""
    monkeypatch.setenv("COMP_LINE", line)
    main(["-sc", f"query={shell}"])
    candidates = capsys.readouterr().out.split("\n" if shell == "fish" else " ")
    candidates = [c.strip() for c in candidates]
    assert not set(left_out) & set(candidates) and set(kept) <= set(candidates), candidates
