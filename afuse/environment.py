"""What a run was made with: the software versions, afuse's commit, the device and CPU kernels.

    run_environment(device)    # metrics.json's `environment` block (docs/contracts.md)
    loaded_checkout()          # afuse's commit, read once: at a training command's start
    other_versions(metrics)    # the versions a record was trained on that differ from this process's

Recorded in metrics.json, not config.yaml: config.yaml holds the settings `afuse status` compares
to call a run stale, and a new torch must not make every finished run stale. What it is for: the
last digits of a result depend on the torch / transformers versions and on the CPU kernels
(afuse/cpu_isa.py), so a record that says which ones it ran on can be reproduced or explained.
"""

import functools
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from afuse import __version__

PACKAGES = ("torch", "transformers", "safetensors")
NUMERICS = ("torch", "transformers")  # versions whose change can move a score's last digits
GIT_TIMEOUT_S = 5


def run_environment(device) -> dict:
    """Python and package versions, afuse's version (and commit, run from a checkout), the
    device the run used (and its GPU's name), and the CPU kernels torch runs: the ones
    trainer.cpu_isa pinned, else those torch picked for this machine."""
    import torch

    environment = {"python": platform.python_version()}
    environment.update({package: _version(package) for package in PACKAGES})
    environment["afuse"] = __version__
    environment.update(loaded_checkout())
    environment["device"] = str(device)
    if device.type == "cuda":
        environment["gpu"] = torch.cuda.get_device_name(device)
    environment["cpu_isa"] = torch.backends.cpu.get_cpu_capability().lower()
    return environment


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


@functools.cache
def loaded_checkout() -> dict:
    """checkout_commit of afuse's own source tree, read once per process: training commands ask
    at their start (setup_torch), so a run that outlives a commit records the code it loaded."""
    return checkout_commit(Path(__file__).resolve().parent.parent)


def checkout_commit(root: Path) -> dict:
    """{"git_commit", "git_dirty"} when `root` is the top of a git checkout (afuse run from its
    source tree, `pip install -e`), else {}: an installed afuse, or one inside another project's
    repository, has no commit of its own. Never fails: no git, a timeout or an error give {}."""
    try:
        top, commit = _git(root, "rev-parse", "--show-toplevel", "HEAD").splitlines()
        if Path(top).resolve() != root.resolve():
            return {}
        changed = _git(root, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError, ValueError):
        return {}
    return {"git_commit": commit, "git_dirty": bool(changed.strip())}


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=GIT_TIMEOUT_S
    ).stdout


def other_versions(metrics: dict | None) -> list[str]:
    """'torch 2.0.0 (here 2.13.0)' for each of NUMERICS the record was trained on in another
    version than this process has; [] for records without an environment (older runs)."""
    recorded = (metrics or {}).get("environment")
    if not isinstance(recorded, dict):
        return []
    differ = []
    for package in NUMERICS:
        then, now = recorded.get(package), _version(package)
        if then and then != now:
            differ.append(f"{package} {then} (here {now})")
    return differ
