"""A SLURM sweep where sbatch cannot submit (no controller reachable, or no SLURM at all): one
line saying what failed and how to run the sweep locally, a non-zero exit, no traceback. A fake
sbatch on PATH fails as the real one does without a controller."""

import os
import subprocess
import sys

import pytest

from afuse.paths import conf_dir

pytestmark = pytest.mark.slow  # the sweep runs in a child process, with its own PATH

NO_CONTROLLER = """#!/bin/sh
echo "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)" >&2
exit 1
"""


def afuse(tmp_path, args: list[str], path: str) -> subprocess.CompletedProcess:
    paths = [f"paths.{key}={tmp_path / key}" for key in ("runs", "logs", "data", "results")]
    env = {**os.environ, "PATH": path, "PYTHONPATH": str(conf_dir().parent)}
    return subprocess.run([sys.executable, "-m", "afuse.cli", *args, *paths], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def sweep(tmp_path, launcher: str, path: str) -> subprocess.CompletedProcess:
    return afuse(
        tmp_path, ["train-adapter", "-m", f"hydra/launcher={launcher}", "task=rte,cb", "model=tiny"], path
    )


def unreachable_controller(tmp_path) -> str:
    """A PATH whose sbatch fails as the real one does without a controller."""
    fake = tmp_path / "bin" / "sbatch"
    fake.parent.mkdir()
    fake.write_text(NO_CONTROLLER)
    fake.chmod(0o755)
    return f"{fake.parent}{os.pathsep}{os.environ['PATH']}"


@pytest.mark.parametrize("launcher", ["slurm_gpu", "slurm_cpu"])
def test_an_unreachable_slurm_controller_is_one_line(tmp_path, launcher):
    result = sweep(tmp_path, launcher, unreachable_controller(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output and "FailedJobError" not in output, output[-3000:]
    errors = [line for line in output.splitlines() if "afuse train-adapter: error:" in line]
    assert len(errors) == 1, output[-3000:]
    assert "Unable to contact slurm controller" in errors[0]
    assert "hydra/launcher=local" in errors[0]  # how to run the same sweep here instead
    assert not (tmp_path / "runs").exists()  # nothing was trained


def test_no_sbatch_at_all_is_one_line(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    result = sweep(tmp_path, "slurm_gpu", str(empty))
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in output, output[-3000:]
    errors = [line for line in output.splitlines() if "afuse train-adapter: error:" in line]
    assert len(errors) == 1 and "sbatch" in errors[0] and "hydra/launcher=local" in errors[0], output[-3000:]


def test_a_machine_without_the_submitit_launcher_starts_afuse_without_a_plugin_warning(tmp_path):
    # The lent GPU machine runs afuse from its checkout with no hydra-submitit-launcher installed:
    # Hydra imports every module under hydra_plugins at start-up, and afuse's SLURM launcher module
    # must still import there, or every command prints Hydra's "Error importing" warning.
    blocker = tmp_path / "site"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\nsys.modules['hydra_plugins.hydra_submitit_launcher'] = None\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), str(conf_dir().parent)])}
    result = subprocess.run([sys.executable, "-m", "afuse.cli", "list", "presets"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Error importing" not in result.stderr, result.stderr[-2000:]
    assert "gpu_check" in result.stdout


@pytest.mark.parametrize("concurrent", ["true", "false"])
def test_afuse_run_stops_at_the_first_sweep_slurm_cannot_take(tmp_path, concurrent):
    # Nothing was submitted and the cluster is unreachable: every other sweep would fail the
    # same way. afuse run says so once, with the submission's exit code, and launches no more.
    args = ["run", "experiment=cpu_small", "model=tiny", "hydra/launcher=slurm_gpu",
            f"run.concurrent_sweeps={concurrent}"]  # fmt: skip
    result = afuse(tmp_path, args, unreachable_controller(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode == 4, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    said = [line for line in output.splitlines() if "sbatch could not submit" in line]
    assert (
        len(said) == 1 and "afuse run: error: the st_a sweep was not submitted, so afuse run stops" in said[0]
    ), output[-3000:]
    assert "hydra/launcher=local" in said[0]
    # sbatch's own line, echoed by submitit: once per sweep started (all of a stage's, concurrent)
    sbatch_said = [line for line in output.splitlines() if line.startswith("sbatch: error:")]
    assert len(sbatch_said) == (2 if concurrent == "true" else 1), output[-3000:]
    assert "[stage 2]" not in output and "[report]" not in output, output[-3000:]
    assert not (tmp_path / "runs").exists() and not (tmp_path / "results").exists()
