"""What every training command does around the loop: skip, lock, resume, record, finish.

    run_stage(cfg, run_dir, train)   # train() returns the metrics dict

- a finished run (metrics.json) is skipped, unless force=true; its settings must match;
- force=true keeps the finished run until the new one is written (afuse/train/forced.py);
- the run directory is locked for the life of the process (a second process exits at once);
- an incomplete run resumes from its checkpoint (the loop does that);
- an error is recorded in failed.json for `afuse status`; a preemption just stops;
- metrics.json is written last and atomically, then the checkpoint is deleted.

Torch-free up to `train()`: a finished or running run is skipped or refused in about a second,
before torch and transformers are imported (the commands import their training modules inside
`train`; see tests/reliability/test_startup.py).
"""

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from afuse import __version__
from afuse.cpu_isa import pin_cpu_isa
from afuse.data_record import PREPARED_DATA, data_change_note
from afuse.environment import loaded_checkout, run_environment
from afuse.errors import ConfigError
from afuse.result_check import DamagedResultError, result_damage
from afuse.runs import (
    FAILED,
    RunLock,
    check_same_config,
    is_complete,
    read_metrics,
    record_failure,
    write_config,
    write_metrics,
)
from afuse.train.checkpoint_dirs import has_checkpoint, remove_checkpoints
from afuse.train.forced import HOLDING, recover_finished, replacing_finished
from afuse.train.signals import Preempted

log = logging.getLogger(__name__)


def run_stage(
    cfg: DictConfig, run_dir: Path, train: Callable[[], dict], check_inputs: Callable[[], None] | None = None
) -> dict | None:
    """`check_inputs` raises when a finished run no longer describes its inputs (a Fusion whose
    source adapters were retrained since): it is then refused, not skipped as done."""
    run_dir = Path(run_dir)
    if _skip(cfg, run_dir, check_inputs):
        return None
    with RunLock(run_dir):
        # A forced rerun killed before it could put the finished run back.
        recover_finished(run_dir, requeued=requeued())
        # Again under the lock: another process (an overlapping sweep) may have finished this run
        # since the check above; training it again would replace a finished result.
        if _skip(cfg, run_dir, check_inputs):
            return None
        if cfg.force and not requeued():
            remove_checkpoints(run_dir)
        elif has_checkpoint(run_dir):  # only a checkpoint to resume ties the run to its settings:
            check_same_config(run_dir, cfg)  # one that failed before it (bad data, a typo) starts anew
        with replacing_finished(run_dir, keep_held_on=_stopped_for_requeue):
            write_config(run_dir, cfg)
            log.info("run directory: %s", run_dir)
            try:
                metrics = train()
            except (Preempted, KeyboardInterrupt):
                raise  # not a failure: the checkpoint is there, a rerun resumes
            except Exception as error:
                record_failure(run_dir, error)
                raise
            (run_dir / FAILED).unlink(missing_ok=True)
            write_config(run_dir, cfg)  # again: with what train() resolved (setup_torch's thread count)
            metrics["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            write_metrics(run_dir, metrics)
        remove_checkpoints(run_dir)
        log.info(
            "done: test accuracy %.4f (majority class %.4f) -> %s",
            metrics["test"]["accuracy"],
            metrics["test"]["majority_rate"],
            run_dir / "metrics.json",
        )
        return metrics


def _stopped_for_requeue(error: BaseException) -> bool:
    """A forced rerun stopped by SLURM's signal resumes when requeued; any other stop gives up."""
    return isinstance(error, Preempted) and not error.interrupted


def _skip(cfg: DictConfig, run_dir: Path, check_inputs: Callable[[], None] | None = None) -> bool:
    """A finished run is skipped (its settings must match) unless force=true."""
    if cfg.force or not is_complete(run_dir) or (run_dir / HOLDING).exists():
        return False  # HOLDING: files of the finished run may be set aside (put back under the lock)
    damage = result_damage(run_dir)
    if damage:
        raise DamagedResultError(
            f"{run_dir} is a finished run whose result is damaged ({damage}); "
            "rerun this command with force=true to train it again"
        )
    check_same_config(run_dir, cfg)
    if check_inputs is not None:
        check_inputs()
    _check_same_data(cfg, run_dir)
    log.info("skipping %s: already complete (metrics.json exists); force=true retrains it", run_dir)
    return True


def _check_same_data(cfg: DictConfig, run_dir: Path) -> None:
    """A finished run whose task was prepared again since, or whose raw files changed, is refused, as
    `afuse status` calls it stale: skipping it would pass its result off as one on today's data."""
    data_root = OmegaConf.select(cfg, "paths.data")
    other_data = data_change_note(read_metrics(run_dir), data_root) if data_root else None
    if other_data:
        raise ConfigError(
            f"{run_dir} is a finished run {other_data}; "
            "rerun this command with force=true to train it on the current data"
        )


def requeued() -> bool:
    """A SLURM job rerun after preemption or a time limit: force=true must not wipe its checkpoint."""
    return int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0) > 0


def setup_torch(cfg: DictConfig) -> None:
    import torch  # here, not at the top: the skip decision above runs without torch

    pin_cpu_isa(cfg.trainer.get("cpu_isa"))  # before torch runs its first kernel
    loaded_checkout()  # the commit whose code runs, before a long run can outlive it
    if cfg.trainer.get("num_threads"):
        torch.set_num_threads(int(cfg.trainer.num_threads))
    # null is torch's default: this machine's cores, fewer in a parallel sweep's worker. The thread
    # count changes a CPU run's last bits, so the run's config.yaml records the one it used.
    cfg.trainer.num_threads = torch.get_num_threads()


def base_metrics(cfg: DictConfig, command: str, kind: str, variant: str, task: str | None, result) -> dict:
    """The metrics.json fields every stage shares (see docs/contracts.md)."""
    metrics = {
        "afuse_version": __version__,
        "command": command,
        "kind": kind,
        "model": cfg.model.name,
        "variant": variant,
    }
    if task is not None:
        metrics["task"] = task
    metrics.update(
        {
            "seed": int(cfg.seed),
            "test": _split_metrics(result.test),
            "validation": _split_metrics(result.validation),
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
            "stopped_early": result.stopped_early,
            "timing": {"train_s": round(result.train_s, 2), "test_eval_s": round(result.test_eval_s, 2)},
            "history": result.history,
            # A finished run is skipped whatever its raw files hold now: this says which data it read.
            "data_sha256": result.data_sha256,
            # Which prepared copies those were: `afuse status` compares them with paths.data's.
            PREPARED_DATA: result.prepared_data,
            # Not in config.yaml: a new torch must not make finished runs stale (afuse/environment.py).
            "environment": run_environment(result.device),
        }
    )
    return metrics


def _split_metrics(values: dict) -> dict:
    metrics = {
        "accuracy": values["accuracy"],
        "n": values["n"],
        "majority_rate": values["majority_rate"],
        "loss": values["loss"],
    }
    if "split_rows" in values:  # test only; MT-A's mean over tasks has none (its tasks have theirs)
        metrics["split_rows"] = values["split_rows"]
    return metrics
