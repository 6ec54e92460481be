"""Sweeps through the submitit SLURM launcher on a real single-node SLURM cluster (issue 6).

Stage 1 is a 2-job sweep (a SLURM job array), stage 2 one fusion job on a pretend GPU; the run
directories and metrics.json files they leave are checked. Both stage-1 jobs are interrupted
mid-training the two ways SLURM does it: SIGUSR2 before a time limit (submitit requeues the job)
and a preemption by requeue (SIGTERM, then SLURM requeues the job). Each must checkpoint on the
signal, come back as the same SLURM job and resume from the checkpoint; the sweep must succeed.

`test_standin_sweep` runs afuse's dispatcher, configs and launcher presets with stand-in
training (tests/slurm/afuse_slurm_standin.py), interrupted as above; `test_afuse_sweep` runs the
real commands on the tiny model and the shared data.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from slurm_cluster import REPO, cluster_logs

from afuse.run_identity import fusion_variant_name

pytestmark = pytest.mark.slurm

SWEEP_TIMEOUT_S = 240  # a sweep takes ~30 s here; this only bounds a hang
SIGNAL_TIMEOUT_S = 120
# The test node has 2 CPUs: two 1-CPU jobs run side by side.
SMALL_JOBS = ["hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1"]
STANDIN = [sys.executable, "-m", "afuse_slurm_standin"]
AFUSE = [sys.executable, "-c", "from afuse.cli import main; main()"]  # = the `afuse` script


def sweep_commands(
    afuse: list[str], tmp: Path, *, tasks: str, seeds: str, sources: str, extra: tuple[str, ...] = ()
) -> tuple[list[str], list[str]]:
    """The test's two command lines, as a user would type them (`afuse` = the given prefix):

    afuse train-adapter -m hydra/launcher=slurm_cpu task=<tasks> seed=<seeds> model=tiny paths.runs=...
    afuse fuse -m hydra/launcher=slurm_gpu target=<first task> fusion.sources=<sources> seed=<first seed> ...
    """
    paths = [f"paths.{key}={tmp / key}" for key in ("runs", "logs", "data")]
    common = ["model=tiny", *paths, *SMALL_JOBS, *extra]
    launcher1, launcher2 = "hydra/launcher=slurm_cpu", "hydra/launcher=slurm_gpu"
    stage1 = [*afuse, "train-adapter", "-m", launcher1, f"task={tasks}", f"seed={seeds}", *common]
    target, seed = tasks.split(",")[0], seeds.split(",")[0]
    fusion = [f"target={target}", f"fusion.sources={sources}", f"seed={seed}"]
    stage2 = [*afuse, "fuse", "-m", launcher2, *fusion, *common]
    return stage1, stage2


# --- helpers --------------------------------------------------------------------------------


def slurm(env: dict, *args: str) -> str:
    done = subprocess.run(list(args), env=env, capture_output=True, text=True, timeout=60)
    return done.stdout + done.stderr


def diagnostics(env: dict, tmp: Path, process_output: str) -> str:
    """Everything that says why a sweep failed: its output, the queue, the jobs' logs, the daemons'."""
    parts = [
        "--- sweep output (tail) ---",
        tail(process_output, 60),
        "--- squeue ---",
        slurm(env, "squeue", "-l"),
        "--- scontrol show job (tail) ---",
        tail(slurm(env, "scontrol", "show", "job"), 60),
    ]
    for log in sorted((tmp / "logs").rglob("*_log.err"))[:8]:
        parts += [f"--- {log} ---", tail(log.read_text(errors="replace"), 30)]
    parts += [cluster_logs()]
    return "\n".join(parts)


def tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


def start(cmd: list[str], env: dict) -> subprocess.Popen:
    # Its own session: on a timeout the multirun and anything it started are killed together.
    return subprocess.Popen(
        cmd,
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def abort(proc: subprocess.Popen, env: dict, tmp: Path, message: str) -> None:
    """Stop a multirun that went wrong (and its jobs), then fail with everything that says why."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    output, _ = proc.communicate()
    report = diagnostics(env, tmp, output)
    for name in ("afuse-train_adapter", "afuse-fuse"):  # the presets' job names
        slurm(env, "scancel", f"--name={name}")
    pytest.fail(f"{message}\n{report}", pytrace=False)


def finish(proc: subprocess.Popen, env: dict, tmp: Path, what: str) -> str:
    """Wait for a multirun; fail with diagnostics on a timeout or a non-zero exit."""
    try:
        output, _ = proc.communicate(timeout=SWEEP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        abort(proc, env, tmp, f"{what} did not finish in {SWEEP_TIMEOUT_S}s")
    if proc.returncode != 0:
        pytest.fail(f"{what} exited {proc.returncode}\n{diagnostics(env, tmp, output)}", pytrace=False)
    return output


def wait_until_parked(run_dir: Path, proc: subprocess.Popen, env: dict, tmp: Path) -> dict:
    """Wait until the stand-in job parks in the middle of training; its SLURM facts."""
    marker = run_dir / "awaiting_signal.json"
    deadline = time.monotonic() + SIGNAL_TIMEOUT_S
    while not marker.is_file():
        if proc.poll() is not None or time.monotonic() > deadline:
            abort(proc, env, tmp, f"the job to preempt never wrote {marker}")
        time.sleep(0.5)
    job = json.loads(marker.read_text())
    # <array>_<task>: the bare SLURM_JOB_ID of an array's first task also names the whole array.
    job["target"] = f"{job['slurm_array_job_id']}_{job['slurm_array_task_id']}"
    return job


def slurm_ok(env: dict, *args: str) -> None:
    done = subprocess.run(list(args), env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{' '.join(args)}: {done.stdout}{done.stderr}"


def read_metrics(run_dir: Path) -> dict:
    path = run_dir / "metrics.json"
    assert path.is_file(), (
        f"missing {path}; the run directory holds {sorted(p.name for p in run_dir.glob('*'))}"
    )
    return json.loads(path.read_text())


def assert_ran_on_slurm(metrics: dict) -> None:
    job = metrics["job"]
    assert job["slurm_job_id"], f"not run as a SLURM job: {job}"
    assert job["python"] == sys.executable and job["cwd"] == str(REPO), job


# --- tests ----------------------------------------------------------------------------------


def test_cluster_runs_a_batch_job(slurm_env, tmp_path):
    out = tmp_path / "job.out"
    done = subprocess.run(
        ["sbatch", "--wait", f"--output={out}", "--wrap", "echo ran on $SLURMD_NODENAME"],
        env=slurm_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{done.stdout}{done.stderr}\n{cluster_logs()}"
    assert out.read_text().startswith("ran on "), out.read_text()


def test_standin_sweep(slurm_env, tmp_path):
    stage1, stage2 = sweep_commands(
        STANDIN, tmp_path, tasks="rte", seeds="1,2", sources="[rte]", extra=("+standin_preempt_seeds=[1,2]",)
    )
    stage1_root = tmp_path / "runs/stage1/tiny/pfeiffer_rf16/rte"

    proc = start(stage1, slurm_env)
    timed_out = wait_until_parked(stage1_root / "seed1", proc, slurm_env, tmp_path)
    preempted = wait_until_parked(stage1_root / "seed2", proc, slurm_env, tmp_path)
    # Time limit near: SLURM sends SIGUSR2 (sbatch --signal=USR2@signal_delay_s); submitit requeues.
    slurm_ok(slurm_env, "scancel", "--signal=USR2", timed_out["target"])
    # Preemption with PreemptMode=REQUEUE: SLURM sends SIGTERM, then SIGKILL, and requeues the job.
    slurm_ok(slurm_env, "scontrol", "requeue", preempted["target"])
    finish(proc, slurm_env, tmp_path, "stage-1 sweep")

    first, second = read_metrics(stage1_root / "seed1"), read_metrics(stage1_root / "seed2")
    assert first["job"]["slurm_array_job_id"] == second["job"]["slurm_array_job_id"]  # one job array
    for metrics, interrupted in ((first, timed_out), (second, preempted)):
        assert_ran_on_slurm(metrics)
        assert metrics["command"] == "train-adapter" and metrics["task"] == "rte"
        # Requeued (the same SLURM job, restarted once), resumed from the checkpoint written on the signal.
        assert metrics["job"]["slurm_job_id"] == interrupted["slurm_job_id"]
        assert metrics["job"]["slurm_restart_count"] == 1
        assert metrics["resumed_from_step"] == 2

    finish(start(stage2, slurm_env), slurm_env, tmp_path, "stage-2 job")
    variant = fusion_variant_name("dynamic", "pfeiffer_rf16", ["rte"])  # the stand-in names runs as fuse does
    fused = read_metrics(tmp_path / f"runs/stage2/tiny/{variant}/rte/seed1")
    assert_ran_on_slurm(fused)
    assert fused["command"] == "fuse" and fused["sources"] == ["rte"]
    assert fused["resumed_from_step"] == 0 and fused["job"]["slurm_restart_count"] == 0
    # submitit's scripts and job logs live under paths.logs, beside Hydra's sweep logs.
    assert list((tmp_path / "logs/multirun/fuse").glob("*/submitit/*/*_submission.sh"))


def test_afuse_sweep(slurm_env, tmp_path):
    data = Path(os.environ.get("AFUSE_SHARED_DATA", REPO.parent / "shared" / "data"))
    assert (data / "RTE").is_dir(), f"no shared task data at {data} (set AFUSE_SHARED_DATA)"
    tiny_run = (
        "data.source=local",
        f"data.raw_dir={data}",
        "data.max_train_examples=64",
        "trainer.max_epochs=1",
        "trainer.num_threads=1",
    )
    stage1, stage2 = sweep_commands(
        AFUSE, tmp_path, tasks="rte,cb", seeds="1", sources="[rte,cb]", extra=tiny_run
    )

    finish(start(stage1, slurm_env), slurm_env, tmp_path, "stage-1 sweep")
    for task in ("rte", "cb"):
        run_dir = tmp_path / f"runs/stage1/tiny/pfeiffer_rf16/{task}/seed1"
        metrics = read_metrics(run_dir)
        assert metrics["command"] == "train-adapter" and metrics["task"] == task
        assert 0.0 <= metrics["test"]["accuracy"] <= 1.0
        assert (run_dir / "adapter.safetensors").is_file()

    finish(start(stage2, slurm_env), slurm_env, tmp_path, "stage-2 job")
    variant = fusion_variant_name("dynamic", "pfeiffer_rf16", ["rte", "cb"])
    run_dir = tmp_path / f"runs/stage2/tiny/{variant}/rte/seed1"
    metrics = read_metrics(run_dir)
    assert metrics["command"] == "fuse" and metrics["sources"] == ["rte", "cb"]
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0
    assert (run_dir / "activations.json").is_file()
