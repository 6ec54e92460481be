"""The single-node SLURM cluster for tests marked `slurm`, started once per test session.

(A module of its own, not conftest.py, so tests import its helpers by a name no other
conftest.py shadows; conftest.py only exposes the fixture.)

The fixture runs tests/slurm/cluster.sh start, which is idempotent: a cluster already up is
reused. Test sessions register under <cluster dir>/test-sessions/<pid>; the last session to end
stops the cluster if a test session started it (not one started by hand or by CI before the
tests), unless AFUSE_SLURM_KEEP=1. So concurrent `make test` runs on one machine share a cluster
without one stopping it under the other. If the cluster cannot start, every SLURM test fails
with the daemons' log lines: a broken cluster must never look like a pass.
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


def _other_live_sessions(sessions: Path) -> list[int]:
    """Pids of other test sessions still using the cluster (stale entries are removed)."""
    live = []
    for entry in sessions.glob("*"):
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            live.append(pid)
        except ProcessLookupError:
            entry.unlink(missing_ok=True)
    return live


def _start_cluster(session: Path) -> tuple[str, bool]:
    """Start (or reuse) the cluster; SLURM_CONF and whether a test session started it."""
    was_up = cluster("status").returncode == 0
    started = cluster("start", timeout=START_TIMEOUT_S)
    if started.returncode != 0:
        session.unlink(missing_ok=True)
        pytest.fail(
            "the single-node SLURM test cluster did not start (tests/slurm/cluster.sh start):\n"
            f"{started.stdout}{started.stderr}",
            pytrace=False,
        )
    return cluster("env").stdout.strip().removeprefix("export SLURM_CONF="), not was_up


@pytest.fixture(scope="session")
def slurm_env() -> dict[str, str]:
    """Environment for SLURM clients and afuse commands that talk to the test cluster."""
    cluster_dir = Path(os.environ.get("AFUSE_SLURM_DIR", "/tmp/afuse-slurm"))
    sessions = cluster_dir / "test-sessions"
    sessions.mkdir(parents=True, exist_ok=True)
    session = sessions / str(os.getpid())
    session.touch()  # before starting: a session ending meanwhile sees us and leaves the cluster up
    slurm_conf, started_here = _start_cluster(session)
    marker = cluster_dir / "started-by-tests"
    if started_here:
        marker.touch()
    # tests/slurm on PYTHONPATH: the jobs import the stand-in module by name (see afuse_slurm_standin).
    pythonpath = os.pathsep.join(p for p in (str(HERE), str(REPO), os.environ.get("PYTHONPATH")) if p)
    yield {**os.environ, "SLURM_CONF": slurm_conf, "PYTHONPATH": pythonpath}
    session.unlink(missing_ok=True)
    if marker.exists() and not _other_live_sessions(sessions) and not os.environ.get("AFUSE_SLURM_KEEP"):
        cluster("stop")
        marker.unlink(missing_ok=True)
