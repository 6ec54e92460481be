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


def sweep(tmp_path, launcher: str, path: str) -> subprocess.CompletedProcess:
    paths = [f"paths.{key}={tmp_path / key}" for key in ("runs", "logs", "data")]
    args = ["train-adapter", "-m", f"hydra/launcher={launcher}", "task=rte,cb", "model=tiny", *paths]
    env = {**os.environ, "PATH": path, "PYTHONPATH": str(conf_dir().parent)}
    return subprocess.run([sys.executable, "-m", "afuse.cli", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


@pytest.mark.parametrize("launcher", ["slurm_gpu", "slurm_cpu"])
def test_an_unreachable_slurm_controller_is_one_line(tmp_path, launcher):
    fake = tmp_path / "bin" / "sbatch"
    fake.parent.mkdir()
    fake.write_text(NO_CONTROLLER)
    fake.chmod(0o755)
    result = sweep(tmp_path, launcher, f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
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
