"""Issue 17, start-up: what a command decides before training runs without torch or transformers.

A sweep of 200 jobs reruns 200 commands whose runs may be finished already; each pays its start-up.
Skipping a finished run, refusing a running one, `afuse --help` and `afuse status` must therefore
not import torch, transformers, datasets or pandas (seconds each). Asserted here on what a fresh
interpreter has imported (how long it takes is measured by experiments/bench_startup.py, never
here). Each check runs the real CLI in a child process: the test process has torch loaded already.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from afuse.runs import RunLock

from .harness import REPO, copy_reference_run, overrides, run_dir, status_totals, write_preset

pytestmark = pytest.mark.slow  # child processes

HEAVY = ("torch", "transformers", "datasets", "pandas")
TRAINING_COMMANDS = ("train_adapter", "finetune", "fuse", "train_multitask")

# Runs the CLI as the `afuse` script does, then reports its exit code and which heavy modules it
# imported, as the last line of stdout.
CHILD = """
import json, sys
from afuse.cli import main
try:
    main(sys.argv[1:])
    code = 0
except SystemExit as exit_:
    code = exit_.code if isinstance(exit_.code, int) else 1
heavy = sorted(name for name in {heavy} if name in sys.modules)
print(json.dumps({{"code": code, "heavy": heavy, "hydra": "hydra" in sys.modules}}))
"""


def child(*args: str, cwd: Path = REPO) -> tuple[dict, str]:
    """(the child's report, its output) for `afuse <args>` in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(heavy=HEAVY), *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    *_, last = done.stdout.splitlines() or [""]
    try:
        return json.loads(last), done.stdout + done.stderr
    except ValueError:
        raise AssertionError(f"the child reported nothing:\n{done.stdout}{done.stderr}") from None


def test_skipping_a_finished_run_imports_no_torch(work, reference):
    copy_reference_run(reference, work)
    report, out = child("train-adapter", *overrides(work, reference.raw_dir), cwd=work)
    assert report["code"] == 0 and "already complete" in out, out
    assert report["heavy"] == [], out


def test_refusing_a_running_run_imports_no_torch(work, reference):
    run = run_dir(work)
    with RunLock(run):  # held by this process: the child must refuse at once
        report, out = child("train-adapter", *overrides(work, reference.raw_dir), cwd=work)
    assert report["code"] != 0 and "is already running" in out, out
    assert report["heavy"] == [], out


def test_skipping_a_finished_fusion_imports_no_torch(work, reference, afuse_inproc):
    copy_reference_run(reference, work)
    fuse = ["fuse", "target=cb", "fusion.sources=[cb]", *overrides(work, reference.raw_dir)[1:]]
    trained = afuse_inproc(*fuse)
    assert trained.code == 0, trained.out
    report, out = child(*fuse, cwd=work)
    assert report["code"] == 0 and "already complete" in out, out
    assert report["heavy"] == [], out


def test_status_imports_no_torch(work, reference):
    copy_reference_run(reference, work)
    preset = [*write_preset(work, ["cb"], [1]), f"paths.runs={work}/runs", f"paths.logs={work}/logs"]
    report, out = child("status", *preset, "data.max_train_examples=64", cwd=work)
    assert report["code"] == 0 and status_totals(out)["done"] == 1, out
    assert report["heavy"] == [], out


def test_help_imports_neither_torch_nor_hydra(tmp_path):
    report, out = child("--help", cwd=tmp_path)
    assert report["code"] == 0 and "train-adapter" in out, out
    assert report["heavy"] == [] and not report["hydra"], out


@pytest.mark.parametrize("command", TRAINING_COMMANDS)
def test_training_commands_import_their_training_code_only_to_train(command):
    """Every training command: the module the CLI imports before deciding to skip is torch-free."""
    code = f"import sys, afuse.commands.{command}; print(sorted(m for m in {HEAVY} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
