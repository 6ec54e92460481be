"""Helpers of the reliability tests: the run settings, child processes, results to compare."""

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from afuse.run_identity import stage1_dir

from . import faults

REPO = Path(__file__).resolve().parents[2]
FAULT_SITE = Path(__file__).resolve().parent / "fault_site"
STEPS_PER_EPOCH = 8  # 64 training examples, batch size 8
EPOCHS = 3
TOTAL_STEPS = STEPS_PER_EPOCH * EPOCHS
# What must be equal between an interrupted-and-resumed run and an uninterrupted one. `history`
# holds every epoch's validation loss: it differs if anything after the interruption differs.
RESULT_KEYS = ("test", "validation", "history", "best_epoch", "epochs_run", "stopped_early", "params")


def overrides(root: Path, raw_dir: Path, *extra: str) -> list[str]:
    """A 3-epoch stage-1 run of the tiny model on 64 CB examples, everything under `root`."""
    return [
        "task=cb",
        "model=tiny",
        "data.source=local",
        f"data.raw_dir={raw_dir}",
        "data.max_train_examples=64",
        f"trainer.max_epochs={EPOCHS}",
        "trainer.batch_size=8",
        "trainer.lr=0.01",  # large enough that every step changes the validation loss
        "trainer.num_threads=1",
        f"paths.runs={root}/runs",
        f"paths.data={root}/data",
        f"paths.logs={root}/logs",
        f"paths.results={root}/results",
        *extra,
    ]


def run_dir(root: Path, seed: int = 1, task: str = "cb") -> Path:
    return stage1_dir(root / "runs", "tiny", "pfeiffer_rf16", task, seed)


def results(metrics: dict) -> dict:
    return {key: metrics[key] for key in RESULT_KEYS}


@dataclass
class Result:
    code: int
    out: str  # stdout and stderr together

    def error_lines(self) -> list[str]:
        return [line for line in self.out.splitlines() if ": error: " in line]


def child_env(fault: str | None = None) -> dict:
    """The environment of an afuse child process; `fault` (faults.py) fires in it, and in any
    process it starts, through fault_site/sitecustomize.py."""
    env = {k: v for k, v in os.environ.items() if k != faults.ENV}
    env["PYTHONPATH"] = str(REPO)
    if fault:
        faults.fault_hook(fault)  # a typo fails here, not as a run that never fails
        env[faults.ENV] = fault
        env["PYTHONPATH"] = os.pathsep.join([str(FAULT_SITE), str(REPO)])
    return env


def start(command: str, args: list[str], cwd: Path, fault: str | None = None) -> subprocess.Popen:
    """`afuse <command> <args>` as a child process (its own pid, signals and exit code)."""
    return subprocess.Popen(
        [sys.executable, "-m", "afuse.cli", command, *args],
        cwd=cwd,
        env=child_env(fault),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen, timeout: float = 300) -> Result:
    out, _ = process.communicate(timeout=timeout)
    return Result(process.returncode, out)


def run_afuse(command: str, args: list[str], cwd: Path, fault: str | None = None) -> Result:
    return finish(start(command, args, cwd, fault))


def wait_until_stopped(process: subprocess.Popen, timeout: float = 120) -> None:
    """Until the child is stopped (SIGSTOP: state T in /proc)."""
    deadline = time.monotonic() + timeout
    stat = Path(f"/proc/{process.pid}/stat")
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the child exited ({process.returncode}) instead of stopping")
        if stat.read_text().rsplit(")", 1)[1].split()[0] == "T":
            return
        time.sleep(0.05)
    raise AssertionError("the child did not stop in time")


@dataclass
class Reference:
    root: Path
    raw_dir: Path
    metrics: dict

    @property
    def run(self) -> Path:
        return run_dir(self.root)


def make_root(path: Path, reference: Reference) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    shutil.copytree(reference.root / "data", path / "data")
    return path


def copy_reference_run(reference: Reference, root: Path) -> Path:
    """The finished reference run, copied into `root`'s runs/ (an earlier result of that tree)."""
    target = run_dir(root)
    shutil.copytree(reference.run, target)
    return target


def checkpoint_state(run: Path) -> dict | None:
    path = run / "checkpoint" / "state.json"
    return json.loads(path.read_text())["loop"] if path.is_file() else None


PRESET = """# @package _global_
# The reliability tests' preset: stage-1 ST-A runs of the tiny model (status and report read it),
# with the settings of `overrides` (status counts a run made with other settings as stale).
defaults:
  - override /model: tiny
data:
  max_train_examples: 64
trainer:
  max_epochs: {epochs}
  batch_size: 8
  lr: 0.01
experiment:
  name: reliability
  tasks: [{tasks}]
  seeds: [{seeds}]
  stage1:
    st_a: {{command: train-adapter, overrides: [adapter=pfeiffer]}}
  report:
    columns: {{ST-A: st_a}}
"""


def write_preset(root: Path, tasks: list[str], seeds: list[int]) -> list[str]:
    """A preset `reliability` under root/conf; returns the overrides that select it."""
    folder = root / "conf" / "experiment"
    folder.mkdir(parents=True, exist_ok=True)
    text = PRESET.format(tasks=", ".join(tasks), seeds=", ".join(map(str, seeds)), epochs=EPOCHS)
    (folder / "reliability.yaml").write_text(text)
    return [f"hydra.searchpath=[file://{root / 'conf'}]", "experiment=reliability"]


def status_totals(out: str) -> dict[str, int]:
    """The `total` row of `afuse status`: {"jobs": n, "done": n, "running": n, ...}."""
    lines = out.splitlines()
    header = next(line.split() for line in lines if line.startswith("group "))
    total = next(line.split() for line in lines if line.startswith("total "))
    return dict(zip(header[4:], map(int, total[1:]), strict=True))


def status_note(out: str, run: Path) -> tuple[str, str]:
    """(state, full note) of `run` in `afuse status` output: a long note is printed below the
    table in full (`[k] <run dir>:` then the note), the table cell then says `see [k] below`."""
    lines = out.splitlines()
    row = next(line for line in lines if f" {run} " in f"{line} " and not line.startswith("["))
    state, note = row.split()[0], row.split(str(run), 1)[1].strip()
    if note.startswith("see ["):
        ref = note.split()[1]
        at = lines.index(f"{ref} {run}:")
        note = lines[at + 1].strip()
    return state, note
