"""What a run records about the software and hardware it ran on (metrics.json's `environment`)."""

import platform
import subprocess
from importlib.metadata import version

import pytest
import torch

from afuse import __version__
from afuse.environment import checkout_commit, other_versions, run_environment
from tests.conftest import REPO_ROOT


def test_the_environment_names_the_versions_device_and_cpu_kernels_in_effect():
    recorded = run_environment(torch.device("cpu"))
    assert recorded["python"] == platform.python_version()
    assert recorded["torch"] == torch.__version__
    for package in ("transformers", "safetensors"):
        assert recorded[package] == version(package)
    assert recorded["afuse"] == __version__
    assert recorded["device"] == "cpu"
    # trainer.cpu_isa=null: whatever torch chose on this machine, read back from torch itself
    assert recorded["cpu_isa"] == torch.backends.cpu.get_cpu_capability().lower()


def test_a_run_from_a_checkout_records_its_commit():
    head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    recorded = checkout_commit(REPO_ROOT)
    assert recorded["git_commit"] == head.stdout.strip()
    changed = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    ).stdout
    assert recorded["git_dirty"] is bool(changed.strip())


def test_no_checkout_or_no_git_records_no_commit_and_never_fails(tmp_path, monkeypatch):
    assert checkout_commit(tmp_path) == {}  # an installed afuse: its folder is no checkout
    inner = tmp_path / "outer"
    subprocess.run(["git", "init", "-q", str(inner)], check=True)
    (inner / "afuse_copy").mkdir()
    assert checkout_commit(inner / "afuse_copy") == {}  # inside another project's repository
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no git at all
    assert checkout_commit(REPO_ROOT) == {}


def test_other_versions_names_the_packages_that_differ_and_ignores_old_records():
    here = run_environment(torch.device("cpu"))
    assert other_versions({}) == [] and other_versions(None) == []  # a record from before the block
    assert other_versions({"environment": dict(here)}) == []
    older = {"environment": {**here, "torch": "2.0.0", "transformers": "4.40.0", "python": "3.9.0"}}
    assert other_versions(older) == [f"torch 2.0.0 (here {torch.__version__})",
                                     f"transformers 4.40.0 (here {version('transformers')})"]  # fmt: skip


def test_a_run_records_the_commit_it_started_on(monkeypatch):
    """A run of hours may outlive a commit made meanwhile: the code it runs is the one it loaded."""
    from omegaconf import OmegaConf

    from afuse import environment
    from afuse.train.run_lifecycle import setup_torch

    environment.loaded_checkout.cache_clear()
    monkeypatch.setattr(environment, "checkout_commit", lambda root: {"git_commit": "at start"})
    threads = torch.get_num_threads()
    try:
        setup_torch(OmegaConf.create({"trainer": {"num_threads": threads, "cpu_isa": None}}))
        monkeypatch.setattr(environment, "checkout_commit", lambda root: {"git_commit": "committed later"})
        assert run_environment(torch.device("cpu"))["git_commit"] == "at start"
    finally:
        environment.loaded_checkout.cache_clear()
