"""The single-node SLURM cluster for tests marked `slurm`, started once per test session.

(A module of its own, not conftest.py, so tests import its helpers by a name no other
conftest.py shadows; conftest.py only exposes the fixture.)

The fixture runs tests/slurm/cluster.sh start, which is idempotent: a cluster already up (started
by hand, by `.ci/run` or by another test session) is reused; one started here is stopped at the
end unless AFUSE_SLURM_KEEP=1 or other jobs are still queued on it. If the cluster cannot start,
every SLURM test fails with the daemons' log lines: a broken cluster must never look like a pass.
"""

import os
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CLUSTER_SH = HERE / "cluster.sh"
START_TIMEOUT_S = 900  # includes `apt-get install slurm-wlm munge` on a fresh machine


def cluster(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLUSTER_SH), *args], capture_output=True, text=True, timeout=timeout)


def cluster_logs() -> str:
    """The daemons' recent log lines, for failure messages."""
    return cluster("logs").stderr


@pytest.fixture(scope="session")
def slurm_env() -> dict[str, str]:
    """Environment for SLURM clients and afuse commands that talk to the test cluster."""
    was_up = cluster("status").returncode == 0
    started = cluster("start", timeout=START_TIMEOUT_S)
    if started.returncode != 0:
        pytest.fail(
            "the single-node SLURM test cluster did not start (tests/slurm/cluster.sh start):\n"
            f"{started.stdout}{started.stderr}",
            pytrace=False,
        )
    slurm_conf = cluster("env").stdout.strip().removeprefix("export SLURM_CONF=")
    # tests/slurm on PYTHONPATH: the jobs import the stand-in module by name (see afuse_slurm_standin).
    pythonpath = os.pathsep.join(p for p in (str(HERE), str(REPO), os.environ.get("PYTHONPATH")) if p)
    yield {**os.environ, "SLURM_CONF": slurm_conf, "PYTHONPATH": pythonpath}
    if not was_up and not os.environ.get("AFUSE_SLURM_KEEP"):
        queued = subprocess.run(
            ["squeue", "-h"], capture_output=True, text=True, env={**os.environ, "SLURM_CONF": slurm_conf}
        ).stdout.strip()
        if not queued:  # someone else's jobs: leave the cluster to them
            cluster("stop")
