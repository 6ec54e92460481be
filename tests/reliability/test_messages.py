"""Issue 14, items 7 and 9-13, 15, 16: wrong input gets one line that names the problem and the
fix, the README's exit code, no traceback, and no work done (nothing prepared, no run directory).

7. a key no config defines (also with Hydra's own `+key=` hint) is an error in every command;
9. `afuse fuse` without a target; 10. trainer.device=cuda on a CPU-only torch;
11. every value is checked before data preparation (an unknown activation, a missing wandb);
12. command typos; 13. unknown task / model / preset: the valid names, not Hydra's search path;
15. a pickle that would run code is refused naming what it would call, without torch's warnings;
16. `afuse report` with nothing finished says so and writes nothing.
"""

import importlib.util
import os
import pickle

import pytest
import torch

from afuse.cli import main as afuse_main
from afuse.config import OWN_TASK_HINT
from afuse.experiment import preset_names
from afuse.modeling.adapters import ACTIVATIONS

from .harness import copy_reference_run, overrides, write_preset

TRAIN = ["train-adapter", "task=cb", "model=tiny"]
FUSE = ["fuse", "target=cb", "model=tiny"]
TASKS = "mnli qqp sst2 winogrande imdb hellaswag siqa cosmosqa scitail argument csqa boolq mrpc sick rte cb"
REFUSED = [
    # item 7: a misspelt key, with and without Hydra's `+`, in a training command and in status
    (TRAIN, "+trainer.max_epoch=3", "unknown key trainer.max_epoch (no config defines it, so it would be ignored); did you mean trainer.max_epochs?"),
    (TRAIN, "trainer.max_epoch=3", "unknown key trainer.max_epoch (no config defines it, so it would be ignored); did you mean trainer.max_epochs?"),
    (FUSE, "+fusion.regularisation=0.1", "unknown key fusion.regularisation (no config defines it, so it would be ignored); did you mean fusion.regularization?"),
    (["status", "experiment=cpu_small"], "+status.al=true", "unknown key status.al (no config defines it, so it would be ignored); did you mean status.all?"),
    # item 9
    (["fuse", "model=tiny"], "seed=1", f"no target given: add target=<name>; valid: {TASKS}"),
    # item 11
    (TRAIN, "adapter.non_linearity=tanhh", f"adapter.non_linearity='tanhh' is not supported; valid: {', '.join(ACTIVATIONS)}"),
    (TRAIN, "trainer.device=gpu", "trainer.device='gpu' is not a device; valid: auto, cpu, cuda, cuda:<n>, mps"),
    # item 13
    (["train-adapter", "model=tiny"], "task=rtee", f"unknown task 'rtee'; valid: argument boolq cb cosmosqa csqa hellaswag imdb mnli mrpc qqp rte scitail sick siqa sst2 winogrande ({OWN_TASK_HINT}); did you mean task=rte?"),
    (["train-adapter", "task=cb"], "model=tinny", "unknown model 'tinny'; valid: bert-base-uncased minilm roberta-base tiny; did you mean model=tiny?"),
    (["run"], "experiment=cpu_smal", f"unknown experiment 'cpu_smal'; valid: {' '.join(preset_names())}; did you mean experiment=cpu_small?"),
    (FUSE[:1] + ["model=tiny"], "target=rtee", f"unknown task 'rtee'; valid tasks: {TASKS} ({OWN_TASK_HINT})"),
    # found by a new user's hunt: each was accepted, crashed with a traceback (prune_below: after
    # training), or was refused only after the run directory was written
    (TRAIN, "force=maybe", "force must be true or false (got 'maybe'); e.g. force=true"),
    (TRAIN, "data.validation_max_examples=0", "data.validation_max_examples must be an integer >= 1 (got 0); e.g. data.validation_max_examples=2000"),
    (TRAIN, "data.max_test_examples=abc", "data.max_test_examples must be an integer >= 1 or null (got 'abc'); e.g. data.max_test_examples=1000"),
    (TRAIN, "trainer.cpu_isa=foo", "trainer.cpu_isa must be one of avx2, avx512 or null (got 'foo'); e.g. trainer.cpu_isa=avx2"),
    (FUSE, "fusion.prune_below=abc", "fusion.prune_below must be a number in [0, 1], a list of them, or null (got 'abc'); e.g. fusion.prune_below=0.05"),
    # a config group the command does not read: Hydra's hint (`+fusion=static`) would add it unread
    (["fuse", "model=tiny"], "task=cb", "task=cb: afuse fuse reads no task group, so it would be ignored; did you mean target=cb?"),
    (TRAIN, "fusion=static", "fusion=static: afuse train-adapter reads no fusion group, so it would be ignored; its groups: adapter data experiment logger model paths task trainer"),
    (TRAIN, "+fusion=static", "fusion=static: afuse train-adapter reads no fusion group, so it would be ignored; its groups: adapter data experiment logger model paths task trainer"),
    # the launcher reads it in the sweep process: joblib's ValueError traceback before any job
    (["train-adapter", "-m", "task=cb,rte", "model=tiny", "hydra/launcher=local_parallel"], "hydra.launcher.n_jobs=0", "hydra.launcher.n_jobs must be a non-zero integer (got 0): the number of parallel jobs, or -1 for one per CPU core; e.g. hydra.launcher.n_jobs=2"),
    (FUSE, "fusion.sources=[]", "fusion.sources must be a non-empty list of task names or adapter directories (or null: the 16 tasks) (got []); e.g. fusion.sources=[rte,mnli]"),
]  # fmt: skip


def refused_at_once(afuse_inproc, tmp_path, command: list[str], *args: str):
    paths = [f"paths.{p}={tmp_path}/{p}" for p in ("runs", "data", "logs", "results")]
    result = afuse_inproc(*command, *args, *paths, "data.source=local", f"data.raw_dir={tmp_path}/raw")
    assert result.code == 2, result.out
    assert "Traceback" not in result.out and "Config search path" not in result.out
    [line] = result.error_lines()
    assert not any((tmp_path / p).exists() for p in ("runs", "data", "results")), "work was done"
    return line


@pytest.mark.parametrize(("command", "bad", "message"), REFUSED, ids=[bad for _, bad, _ in REFUSED])
def test_wrong_input_is_one_line_exit_2_and_no_work(command, bad, message, tmp_path, afuse_inproc):
    line = refused_at_once(afuse_inproc, tmp_path, command, bad)
    assert line.split(": error: ", 1)[1] == message


@pytest.mark.skipif(torch.cuda.is_available(), reason="this torch has CUDA: the setting is valid here")
def test_cuda_on_a_cpu_only_torch_is_one_line(tmp_path, afuse_inproc):  # item 10
    line = refused_at_once(afuse_inproc, tmp_path, TRAIN, "trainer.device=cuda")
    assert f"trainer.device=cuda but torch {torch.__version__} here has a CPU-only build" in line
    assert "use trainer.device=auto (GPU when there is one) or trainer.device=cpu" in line


def test_a_missing_wandb_is_reported_before_data_preparation(tmp_path, afuse_inproc, monkeypatch):  # item 11
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else find_spec(name, *a)
    )
    line = refused_at_once(afuse_inproc, tmp_path, TRAIN, "logger=wandb")
    assert "logger=wandb needs the wandb package: pip install 'afuse[wandb]' (or use logger=none)" in line


@pytest.mark.parametrize("typo", ["train-adaptor", "train_adapter"])
def test_a_command_typo_names_the_command(typo, capsys):  # item 12
    with pytest.raises(SystemExit) as exit_:
        afuse_main([typo, "task=cb"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0] == f"afuse: unknown command {typo!r}; did you mean train-adapter?"


# -- item 15: hostile pickles ------------------------------------------------------------------


class RunsShell:
    """Unpickling this would call os.system: a pickle can run any code."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


@pytest.mark.parametrize("writer", ["pickle-protocol-4", "torch-legacy-protocol-4"])
def test_a_pickle_that_would_run_code_is_refused_naming_the_call(
    writer, work, reference, afuse_inproc, tmp_path
):
    copy_reference_run(reference, work)
    downloaded = tmp_path / "downloaded" / "sentiment"
    downloaded.mkdir(parents=True)
    (downloaded / "adapter_config.json").write_text((reference.run / "adapter_config.json").read_text())
    state = {"weight": torch.zeros(2), "payload": RunsShell()}
    with open(downloaded / "pytorch_adapter.bin", "wb") as handle:
        if writer == "pickle-protocol-4":
            pickle.dump(state, handle, protocol=4)
        else:
            torch.save(state, handle, _use_new_zipfile_serialization=False, pickle_protocol=4)
    stage1 = overrides(work, reference.raw_dir)
    fuse = [a for a in stage1 if not a.startswith(("task=", "trainer.max_epochs="))]
    refused = afuse_inproc(
        "fuse", *fuse, "target=cb", f"fusion.sources=[cb,{downloaded}]", "trainer.max_epochs=1"
    )
    assert refused.code == 2, refused.out
    [line] = refused.error_lines()
    assert f"{downloaded / 'pytorch_adapter.bin'}: refused to unpickle it" in line
    assert f"can run code (it would call {os.system.__module__}.system)" in line
    assert "Detected pickle protocol" not in refused.out and "()" not in line


# -- item 16: a report of nothing --------------------------------------------------------------


def test_a_report_with_nothing_finished_says_so_and_writes_nothing(tmp_path, afuse_inproc):
    preset = write_preset(tmp_path, ["cb", "rte"], [1, 2])
    result = afuse_inproc(
        "report", *preset, f"paths.runs={tmp_path}/runs", f"paths.results={tmp_path}/results"
    )
    assert result.code == 0, result.out
    assert "nothing to report yet (0 of 4 jobs finished)" in result.out
    assert "wrote" not in result.out and not (tmp_path / "results").exists()


def test_a_report_lists_only_what_it_wrote(work, reference, afuse_inproc):
    copy_reference_run(reference, work)
    preset = write_preset(work, ["cb"], [1])
    result = afuse_inproc("report", *preset, f"paths.runs={work}/runs", f"paths.results={work}/results")
    assert result.code == 0, result.out
    assert (
        "tables: accuracy; no heatmaps (no finished fusion run with activations.json that is not stale)"
        in result.out
    )
    written = (work / "results" / "reliability" / "report_files.txt").read_text().split()
    assert "accuracy.md" in written and not any(name.startswith("heatmaps/") for name in written)


def test_free_mappings_take_new_keys_with_plus():
    """model.config goes to transformers' config as it is, data.per_task.<task> to that task."""
    from afuse.errors import ConfigError
    from afuse.overrides import check_overrides

    check_overrides("train_adapter", ["task=rte", "model=tiny", "+model.config.hidden_dropout_prob=0.2"])
    check_overrides("train_adapter", ["task=rte", "+data.per_task.rte.max_train_examples=10"])
    with pytest.raises(ConfigError, match="unknown key model.config.hidden_dropout_prob"):
        check_overrides(
            "train_adapter", ["task=rte", "model=minilm", "+model.config.hidden_dropout_prob=0.2"]
        )
