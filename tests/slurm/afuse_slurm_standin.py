"""Stand-ins for `afuse train-adapter` and `afuse fuse`, for the SLURM test before those exist.

    python -m afuse_slurm_standin train-adapter -m hydra/launcher=slurm_cpu task=rte seed=1,2 ...
    python -m afuse_slurm_standin fuse -m hydra/launcher=slurm_cpu target=rte fusion.sources=[rte] ...

(with tests/slurm on PYTHONPATH). This is afuse's own dispatcher (afuse.cli), afuse's configs and
launcher presets, afuse's run-directory contract (afuse.runs); only the work inside a job is
replaced: a few sleeps instead of training. So the path a real sweep takes (Hydra multirun ->
hydra-submitit-launcher -> sbatch job array -> srun -> submitit unpickles the afuse task function
on the node) is exercised as it is, and the afuse commands drop into the same test unchanged.

The "training" also shows the preemption contract (see `Preemption`): it checkpoints at a safe
point when SLURM signals it and hands over to submitit, which requeues the job; the rerun resumes
from the checkpoint. The module is named uniquely (not tests.slurm...) because a job imports it by
name from PYTHONPATH, where an unrelated installed `tests` package could shadow ours.
"""

import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from afuse import run_identity, runs
from afuse.atomic import atomic_write_json
from afuse.errors import MissingInputError

CHECKPOINT = "checkpoint.json"
AWAITING_SIGNAL = "awaiting_signal.json"  # the test sends the preemption signal when it sees this
STEPS = 4
STEP_S = 0.2
SIGNAL_WAIT_S = 120


class Preemption:
    """SIGUSR2 (time limit near, or preemption) and SIGTERM, turned into a checkpoint and an exit.

    The handlers only set a flag: the loop calls `check(save)` at safe points (after an optimizer
    step), where a checkpoint is consistent. Then the handler that was installed before ours runs:
    under submitit that is its SIGUSR2 handler, which resubmits the Hydra job and calls
    `scontrol requeue` before exiting; for SIGTERM (submitit only logs it) or outside submitit we
    raise SystemExit ourselves. Never an ordinary exception: submitit would record it as the job's
    error, and the sweep would report the job failed although it is requeued.
    """

    SIGNALS = (signal.SIGUSR2, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous = {}

    def __enter__(self) -> "Preemption":
        self._previous = {sig: signal.getsignal(sig) for sig in self.SIGNALS}
        for sig in self.SIGNALS:
            signal.signal(sig, self._note)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _note(self, signum, frame) -> None:
        self.received = signum

    def check(self, save) -> None:
        if self.received is None:
            return
        signum = self.received
        save()
        previous = self._previous[signum]
        signal.signal(signum, previous)
        if callable(previous):
            previous(signum, None)  # submitit: requeue, then sys.exit
        raise SystemExit(128 + signum)


def _slurm_facts() -> dict:
    """What the test checks to know the job really ran under SLURM, with which Python and where."""
    env = os.environ
    return {
        "slurm_job_id": env.get("SLURM_JOB_ID"),
        "slurm_array_job_id": env.get("SLURM_ARRAY_JOB_ID"),
        "slurm_array_task_id": env.get("SLURM_ARRAY_TASK_ID"),
        "slurm_restart_count": int(env.get("SLURM_RESTART_COUNT", 0)),
        "host": socket.gethostname(),
        "python": sys.executable,
        "cwd": os.getcwd(),
    }


def _load_checkpoint(run_dir: Path) -> int:
    path = run_dir / CHECKPOINT
    return json.loads(path.read_text())["step"] if path.is_file() else 0


def _wait_for_signal(run_dir: Path, guard: Preemption, save) -> None:
    """Park the job until the test preempts it (it watches for AWAITING_SIGNAL)."""
    atomic_write_json(run_dir / AWAITING_SIGNAL, _slurm_facts())
    deadline = time.monotonic() + SIGNAL_WAIT_S
    while time.monotonic() < deadline:
        guard.check(save)
        time.sleep(0.1)
    raise RuntimeError(f"no preemption signal within {SIGNAL_WAIT_S}s")


def _train(run_dir: Path, preempt: bool) -> int:
    """The stand-in training loop: STEPS steps, resumable. Returns the step it resumed from."""
    start = step = _load_checkpoint(run_dir)
    save = lambda: atomic_write_json(run_dir / CHECKPOINT, {"step": step})  # noqa: E731
    with Preemption() as guard:
        while step < STEPS:
            time.sleep(STEP_S)  # one optimizer step
            step += 1
            guard.check(save)  # the safe point: after the step, before the next
            if preempt and start == 0 and step == STEPS // 2:
                _wait_for_signal(run_dir, guard, save)
    return start


def _finish(run_dir: Path, cfg: DictConfig, metrics: dict, resumed_from: int) -> None:
    runs.write_config(run_dir, cfg)
    metrics |= {
        "seed": cfg.seed,
        "model": cfg.model.name,
        "resumed_from_step": resumed_from,
        "job": _slurm_facts(),
        "test": {"accuracy": 0.5, "n": 2},
    }
    runs.write_metrics(run_dir, metrics)


def train_adapter(cfg: DictConfig) -> None:
    variant = run_identity.variant(cfg, run_identity.TRAIN_ADAPTER)
    run_dir = run_identity.run_dir(cfg, run_identity.TRAIN_ADAPTER)
    run_dir.mkdir(parents=True, exist_ok=True)
    resumed_from = _train(run_dir, preempt=cfg.seed in cfg.get("standin_preempt_seeds", []))
    metrics = {"command": "train-adapter", "kind": "st_a", "variant": variant, "task": cfg.task.name}
    _finish(run_dir, cfg, metrics, resumed_from)


def fuse(cfg: DictConfig) -> None:
    sources = list(cfg.fusion.sources)
    for source in sources:  # what the real `fuse` needs first: finished stage-1 runs
        stage1 = run_identity.source_run_dir(cfg, source)
        if not runs.is_complete(stage1):
            raise MissingInputError(f"stage-1 run {stage1} is not complete")
    variant = run_identity.variant(cfg, run_identity.FUSE)
    run_dir = run_identity.run_dir(cfg, run_identity.FUSE)
    run_dir.mkdir(parents=True, exist_ok=True)
    resumed_from = _train(run_dir, preempt=False)
    metrics = {
        "command": "fuse",
        "kind": "fusion",
        "variant": variant,
        "task": cfg.target,
        "sources": sources,
    }
    _finish(run_dir, cfg, metrics, resumed_from)


def main(cfg: DictConfig) -> None:
    """The `main(cfg)` afuse.cli calls for both stand-in commands."""
    {"train_adapter": train_adapter, "fuse": fuse}[HydraConfig.get().job.name](cfg)


def run() -> None:
    """afuse's dispatcher, with train-adapter and fuse pointed at this module."""
    from afuse import cli
    from afuse.commands import COMMANDS, Command

    # By its import name, not __name__ (`__main__` under `python -m`): the job imports it anew.
    for name in ("train-adapter", "fuse"):
        COMMANDS[name] = Command(name, "afuse_slurm_standin", f"SLURM test stand-in for `afuse {name}`")
    # +standin_preempt_seeds is this stand-in's own key, which no afuse config defines.
    check = cli.check_overrides
    cli.check_overrides = lambda config, argv: check(config, [a for a in argv if "standin_" not in a])
    cli.main()


if __name__ == "__main__":
    run()
