"""The one training loop every stage uses (adapters, baselines, fusion, MT-A).

Read top to bottom: `fit` resumes from the run directory's checkpoint if there is one, trains
epoch by epoch (AdamW, linear decay, gradient accumulation, autocast on GPU), evaluates
validation accuracy after each epoch, keeps the best weights, stops early after `patience`
epochs without progress (neither a better accuracy nor a lower validation loss), checkpoints
every epoch (and mid-epoch: on a preemption signal, and every `checkpoint_every_minutes`, so a
kill without warning loses at most that much), then evaluates `test` with the best-validation
weights.

Reproducible on CPU: the same seed gives the same metrics, also across an interruption, because
the data order of each epoch comes from its own generator (seed, epoch) and the RNG state that
drives dropout is saved in every checkpoint.
"""

import hashlib
import logging
import math
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import torch
from torch.utils.data import DataLoader, Sampler
from tqdm.auto import tqdm

from afuse.data.tokenize import split_rows
from afuse.errors import AfuseError, CorruptCheckpointError, TrainingDiverged
from afuse.progress_bars import bar_enabled
from afuse.train import cuda_graphs, step_hooks
from afuse.train.checkpoint import LoopState, find_checkpoint, load_checkpoint, save_checkpoint
from afuse.train.signals import preemption_guard

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    validation: dict
    test: dict
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    train_s: float
    test_eval_s: float
    history: list[dict]
    data_sha256: str = ""  # TaskData.fingerprint: the tokenised splits it read
    device: torch.device = torch.device("cpu")  # where it trained (metrics.json's environment)
    prepared_data: dict = field(default_factory=dict)  # TaskData.prepared: the prepared copies it read


class EpochOrder(Sampler):
    """A fixed permutation per (seed, epoch), optionally starting part-way (mid-epoch resume)."""

    def __init__(self, size: int, seed: int, epoch: int, start: int = 0, shuffle: bool = True):
        self.size, self.seed, self.epoch, self.start, self.shuffle = size, seed, epoch, start, shuffle

    def order(self) -> list[int]:
        if not self.shuffle:
            return list(range(self.size))
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return torch.randperm(self.size, generator=generator).tolist()

    def __iter__(self):
        return iter(self.order()[self.start :])

    def __len__(self) -> int:
        return max(self.size - self.start, 0)


class TaskData:
    """One task's splits as the loop sees them: batches per epoch in a seeded order, and evaluation.

    MT-A has its own (afuse/train/multitask.py) with the same three methods, so one loop serves both.
    """

    def __init__(self, splits: dict, collate, batch_size: int, eval_batch_size: int, seed: int):
        self.splits, self.collate, self.seed = splits, collate, seed
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        # {task: its prepared copy's record} (afuse.data_record), for metrics.json; {} for rows
        # that were not prepared (the GPU check's synthetic data)
        self.prepared: dict = {}

    @property
    def train_size(self) -> int:
        return len(self.splits["train"])

    def empty_splits(self) -> list[str]:
        return [split for split in ("train", "validation") if len(self.splits[split]) == 0]

    def fingerprint(self) -> str:
        """sha256 of every split's tokenised rows (their values): a checkpoint made on other data
        (raw files changed since) is not resumed, and metrics.json records what a run read."""
        digest = hashlib.sha256()
        for split in sorted(self.splits):
            dataset = self.splits[split]
            digest.update(f"{split} {len(dataset)}".encode())
            table = getattr(getattr(dataset, "data", None), "table", None)
            if table is None:  # plain rows (the GPU check's synthetic data)
                digest.update(repr(list(dataset)).encode())
                continue
            for column in sorted(table.column_names):
                digest.update(column.encode())
                _hash_values(digest, table.column(column).combine_chunks())
        return digest.hexdigest()

    def num_batches(self, epoch: int) -> int:
        return math.ceil(self.train_size / self.batch_size)

    def batches(self, epoch: int, start: int = 0):
        order = EpochOrder(self.train_size, self.seed, epoch, start=start * self.batch_size)
        return iter(_loader(self.splits["train"], self.collate, self.batch_size, sampler=order))

    def evaluate(self, model, split: str, device: torch.device, amp="auto", progress: bool = False) -> dict:
        batches = _loader(self.splits[split], self.collate, self.eval_batch_size)
        result = evaluate(model, _eval_bar(batches, split, progress), device, amp, self.splits[split])
        if split == "test":  # the one evaluated split data.max_<split>_examples may cut to a sample
            result["split_rows"] = split_rows(self.splits[split])  # n < split_rows: a sample
        return result


def _hash_values(digest, array) -> None:
    """The values of an Arrow (list) array, not its buffers: the rows a run tokenised itself and the
    same rows read back from the tokenised cache sit in other buffers (offsets, validity bitmaps)."""
    if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):  # row lengths, then values
        offsets = array.offsets.to_numpy().astype("int64")
        digest.update(np.diff(offsets).tobytes())
        _hash_values(digest, array.flatten())
    else:
        digest.update(array.to_numpy(zero_copy_only=False).astype("int64").tobytes())


def resolve_device(setting: str) -> torch.device:
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(setting)


def autocast_for(device: torch.device, amp, cache: bool = True) -> tuple[object, torch.amp.GradScaler | None]:
    """bf16 autocast where the GPU supports it, else fp16 with a grad scaler; nothing on CPU.
    `cache=False` for a step captured as a CUDA graph (autocast's cast cache must not outlive a capture)."""
    use = device.type == "cuda" if str(amp) == "auto" else bool(amp) and device.type == "cuda"
    if not use:
        return nullcontext(), None
    if torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=cache), None
    return torch.autocast("cuda", dtype=torch.float16, cache_enabled=cache), torch.amp.GradScaler("cuda")


def _loader(dataset, collate, batch_size: int, sampler=None) -> DataLoader:
    # An explicit generator keeps DataLoader from drawing on the global RNG (which drives dropout
    # and is checkpointed); otherwise a mid-epoch resume would shift the dropout masks.
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        collate_fn=collate,
        generator=torch.Generator().manual_seed(0),
    )


def _to_device(batch: dict, device: torch.device) -> dict:
    # Non-tensor entries (MT-A's task name) pass through untouched.
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}


def majority_rate(dataset) -> float:
    labels = torch.as_tensor(dataset["labels"])
    return float(torch.bincount(labels).max()) / max(len(labels), 1) if len(labels) else float("nan")


@torch.no_grad()
def evaluate(model, batches, device: torch.device, amp, dataset) -> dict:
    """Accuracy and mean loss over a split's batches, in eval mode."""
    model.eval()
    autocast, _ = autocast_for(device, amp)
    correct, total, loss_sum = 0, 0, 0.0
    for batch in batches:
        batch = _to_device(batch, device)
        labels = batch.pop("labels")
        with autocast:
            logits = model(**batch)
        loss_sum += float(torch.nn.functional.cross_entropy(logits.float(), labels, reduction="sum"))
        correct += int((logits.argmax(-1) == labels).sum())
        total += len(labels)
    return {
        "accuracy": correct / max(total, 1),
        "n": total,
        "loss": loss_sum / max(total, 1),
        "majority_rate": majority_rate(dataset),
    }


def _trainable(model) -> dict[str, torch.nn.Parameter]:
    named = {n: p for n, p in model.named_parameters() if p.requires_grad}
    if not named:
        raise AfuseError("nothing to train: no parameter requires a gradient")
    return named


def _snapshot(named: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone().cpu() for n, p in named.items()}


def _copy_into(named: dict[str, torch.nn.Parameter], values: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for name, param in named.items():
            param.copy_(values[name])


def _linear_schedule(optimizer, warmup_steps: int, total_steps: int):
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(warmup_steps, 1)
        return max(0.0, (total_steps - step) / max(total_steps - warmup_steps, 1))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class Checkpointer:
    """Saves the loop's checkpoint when asked, and says when a periodic one is due.

    Epochs of a large task run for hours; a job killed without warning (OOM killer, node failure,
    a time limit without a signal) would lose the whole epoch. `every_minutes` bounds that loss
    (None: only per epoch and on preemption signals; 0: after every step, for tests).
    """

    def __init__(self, save: Callable[[], None], every_minutes: float | None):
        self.save = save
        self.every_s = None if every_minutes is None else float(every_minutes) * 60
        self.last = time.monotonic()

    def __call__(self) -> None:
        self.save()
        self.last = time.monotonic()

    def due(self) -> bool:
        return self.every_s is not None and time.monotonic() - self.last >= self.every_s


def progress_enabled(cfg) -> bool:
    return bar_enabled(cfg.progress_bar)


def _eval_bar(batches: DataLoader, split: str, enabled: bool):
    """The batches of an evaluation pass, with a bar (a test split can take minutes)."""
    if not enabled:
        return batches
    return tqdm(batches, desc=split, dynamic_ncols=True, leave=False, file=sys.stderr)


def _progress(cfg, total: int, initial: int, desc: str):
    enabled = progress_enabled(cfg)
    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        dynamic_ncols=True,
        leave=False,
        disable=not enabled,
        file=sys.stderr,
    )


@dataclass
class Training:
    """One fit() call: what it trains and with what (built once), and where it is (`state`).

    The epoch and step functions take this instead of a dozen separate arguments.
    """

    model: torch.nn.Module
    data: TaskData
    cfg: object  # the trainer config (conf/trainer/)
    device: torch.device
    named: dict[str, torch.nn.Parameter]  # the parameters it trains
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    autocast: object
    scaler: torch.amp.GradScaler | None
    steps_per_epoch: int
    extra_loss: Callable[[], torch.Tensor] | None = None
    logger: object = None
    graphs: cuda_graphs.GraphedSteps | None = None  # trainer.cuda_graphs: steps replayed as CUDA graphs
    state: LoopState = field(default_factory=LoopState)
    best: dict[str, torch.Tensor] = field(default_factory=dict)  # the best epoch's weights, on the CPU
    # When training began, moved back by the seconds earlier processes trained (a resumed run).
    clock_start: float = field(default_factory=time.perf_counter)

    def start_clock(self) -> None:
        self.clock_start = time.perf_counter() - self.state.train_s

    def training_seconds(self) -> float:
        return time.perf_counter() - self.clock_start

    def save(self, run_dir) -> None:
        self.state.train_s = self.training_seconds()
        optimizer_state = {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()}
        save_checkpoint(run_dir, self.state, self.named, self.best, optimizer_state)


def fit(
    model,
    data: TaskData,
    cfg,
    run_dir,
    seed: int,
    extra_loss: Callable[[], torch.Tensor] | None = None,
    logger=None,
    frozen_inputs: str = "",
) -> FitResult:
    """Train `model`'s parameters that require grad; return validation/test metrics of the best epoch.
    `frozen_inputs`: a digest of frozen weights the training depends on (a Fusion's source
    adapters): with the data's, a checkpoint made over others is not resumed."""
    _require_rows(data)
    run = _prepare(model, data, cfg, extra_loss, logger)
    data_sha256 = data.fingerprint()
    digest = data_sha256 + (f" {frozen_inputs}" if frozen_inputs else "")
    if not _resume(run, run_dir, digest):
        torch.manual_seed(seed)
    run.state.data_digest = digest
    checkpoint = Checkpointer(lambda: run.save(run_dir), cfg.get("checkpoint_every_minutes"))

    run.start_clock()
    with preemption_guard() as guard:
        while run.state.epoch < cfg.max_epochs and run.state.epochs_without_gain < cfg.patience:
            _train_epoch(run, guard, checkpoint)
            validation = data.evaluate(model, "validation", run.device, cfg.amp, progress_enabled(cfg))
            _record_epoch(run.state, validation, run.named, run.best, logger)
            run.state.epoch += 1
            run.state.step_in_epoch = 0
            checkpoint()
            if guard.requested:  # asked to stop during validation: the epoch's checkpoint is written
                raise guard.preempted()
    return _result(run, run.training_seconds(), data_sha256)


def _prepare(model, data: TaskData, cfg, extra_loss, logger) -> Training:
    """The model on its device, AdamW with linear decay over every epoch's steps, autocast."""
    device = resolve_device(cfg.device)
    graphed = bool(cfg.get("cuda_graphs"))
    model.to(device)
    named = _trainable(model)
    # Fused AdamW on a GPU: one kernel per step for all parameters instead of several per tensor.
    fused = True if device.type == "cuda" else None
    optimizer = torch.optim.AdamW(named.values(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)
    steps_per_epoch = math.ceil(data.num_batches(0) / cfg.grad_accum_steps)
    total_steps = steps_per_epoch * cfg.max_epochs
    scheduler = _linear_schedule(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    autocast, scaler = autocast_for(device, cfg.amp, cache=not graphed)
    if graphed:
        cuda_graphs.check_supported(cfg, device, scaler, multitask=not isinstance(data, TaskData))
    amp_dtype = getattr(autocast, "fast_dtype", None)  # torch.autocast has one, nullcontext not
    log.info(
        "training on %s (%s%s)",
        device,
        f"{str(amp_dtype).removeprefix('torch.')} autocast" if amp_dtype else "fp32",
        ", steps replayed as CUDA graphs" if graphed else "",
    )
    run = Training(
        model=model,
        data=data,
        cfg=cfg,
        device=device,
        named=named,
        optimizer=optimizer,
        scheduler=scheduler,
        autocast=autocast,
        scaler=scaler,
        steps_per_epoch=steps_per_epoch,
        extra_loss=extra_loss,
        logger=logger,
        best=_snapshot(named),
    )
    if graphed:
        run.graphs = cuda_graphs.GraphedSteps(lambda batch: _graphable_step(run, batch), data.batch_size)
    return run


def _resume(run: Training, run_dir, data_digest: str) -> bool:
    """Continue from the run directory's checkpoint, if there is one: weights, optimizer, RNG, state."""
    found = find_checkpoint(run_dir)
    if not found:
        return False
    ckpt = load_checkpoint(found)
    if ckpt.state.data_digest not in ("", data_digest):
        raise AfuseError(
            f"checkpoint {found} was made on other data or source adapters: the task's prepared data (its "
            "raw files, data settings) or the adapters a Fusion fuses changed since; rerun with force=true "
            "to train on the current ones from the start"
        )
    _check_fits(found, run.named, ckpt.params)
    _check_fits(found, run.named, ckpt.best)
    _copy_into(run.named, ckpt.params)
    run.best = ckpt.best
    run.optimizer.load_state_dict(ckpt.optimizer_state["optimizer"])
    run.scheduler.load_state_dict(ckpt.optimizer_state["scheduler"])
    ckpt.restore_rng()
    run.state = ckpt.state
    log.info(
        "resuming from %s: epoch %d, step %d of %d",
        found,
        run.state.epoch + 1,
        run.state.step_in_epoch,
        run.steps_per_epoch,
    )
    return True


def _check_fits(found, named: dict[str, torch.nn.Parameter], values: dict[str, torch.Tensor]) -> None:
    """A checkpoint for other trainable weights (an older afuse's names, another model) is
    refused: copying a smaller tensor into a parameter may broadcast without an error."""
    wrong = [f"missing {n}" for n in named if n not in values]
    wrong += [f"unexpected {n}" for n in values if n not in named]
    wrong += [
        f"{n} {tuple(values[n].shape)} != {tuple(p.shape)}"
        for n, p in named.items()
        if n in values and values[n].shape != p.shape
    ]
    if wrong:
        raise CorruptCheckpointError(
            f"checkpoint {found} holds other trainable weights than this run ({', '.join(wrong[:3])}); "
            "delete it to restart this run from scratch, or rerun with force=true"
        )


def _result(run: Training, train_s: float, data_sha256: str) -> FitResult:
    """Test metrics with the best epoch's weights, and that epoch's validation metrics."""
    state, cfg = run.state, run.cfg
    _copy_into(run.named, run.best)
    started = time.perf_counter()
    test = run.data.evaluate(run.model, "test", run.device, cfg.amp, progress_enabled(cfg))
    best_row = next(h for h in state.history if h["epoch"] == state.best_epoch)
    return FitResult(
        validation={k: v for k, v in best_row.items() if k != "epoch"},
        test=test,
        best_epoch=state.best_epoch,
        epochs_run=state.epoch,
        stopped_early=state.epochs_without_gain >= cfg.patience and state.epoch < cfg.max_epochs,
        train_s=train_s,
        test_eval_s=time.perf_counter() - started,
        history=state.history,
        data_sha256=data_sha256,
        device=run.device,
        prepared_data=run.data.prepared,
    )


def _require_rows(data) -> None:
    """An empty train or validation split would "finish" a run that learnt nothing: refuse it."""
    empty = data.empty_splits()
    if empty:
        raise AfuseError(
            f"nothing to train on: the {' and '.join(empty)} split(s) have 0 rows; "
            "afuse prepare-data task=<task> shows each split's rows and where they come from"
        )


def _record_epoch(state: LoopState, validation: dict, named, best: dict, logger) -> None:
    """Early-stopping bookkeeping.

    The best epoch is the first with the highest validation accuracy. Patience counts epochs
    without progress, and progress is a new best accuracy or a new lowest validation loss: on a
    few hundred validation rows accuracy moves in steps of 0.4 points and sits on a plateau for
    epochs while the model still improves (RTE on MiniLM: loss 0.692 -> 0.684 over five epochs
    at one accuracy), so accuracy alone stops a run that is still learning. The epoch budget
    (`max_epochs`) still bounds every run.
    """
    accuracy, loss = validation["accuracy"], validation["loss"]
    improved = accuracy > state.best_accuracy
    progress = improved or loss < state.lowest_loss
    state.lowest_loss = min(state.lowest_loss, loss)
    if improved:
        state.best_accuracy, state.best_epoch = accuracy, state.epoch + 1
        best.update(_snapshot(named))
    state.epochs_without_gain = 0 if progress else state.epochs_without_gain + 1
    state.history.append({"epoch": state.epoch + 1, **validation})
    note = ", lowest loss so far" if progress else f", no progress for {state.epochs_without_gain}"
    log.info(
        "epoch %d: validation accuracy %.4f (loss %.4f)%s",
        state.epoch + 1,
        accuracy,
        loss,
        " *best*" if improved else note,
    )
    if logger:
        logger.log(
            {
                "validation/accuracy": validation["accuracy"],
                "validation/loss": validation["loss"],
                "epoch": state.epoch + 1,
            },
            step=state.global_step,
        )


def _train_epoch(run: Training, guard, checkpoint: Checkpointer) -> None:
    """The rest of the current epoch, from `state.step_in_epoch` on (a resumed epoch starts midway)."""
    state, cfg = run.state, run.cfg
    batches = run.data.batches(state.epoch, start=state.step_in_epoch * cfg.grad_accum_steps)
    run.model.train()
    title = f"epoch {state.epoch + 1}/{cfg.max_epochs}"
    bar = _progress(cfg, run.steps_per_epoch, state.step_in_epoch, title)
    while state.step_in_epoch < run.steps_per_epoch:
        micro = _accumulate(run, batches)
        if micro is None:
            break
        losses, lr = _step(run, micro)
        bar.update(1)
        bar.set_postfix(loss=f"{losses['loss']:.4f}", lr=f"{lr:.2e}")
        if state.global_step % cfg.log_every_steps == 0:
            _log_step(state, losses, lr, run.logger, bar.disable)
        if guard.requested:
            checkpoint()
            bar.close()
            raise guard.preempted()
        if checkpoint.due() and state.step_in_epoch < run.steps_per_epoch:  # the epoch's end saves anyway
            checkpoint()
    bar.close()


def _step(run: Training, micro) -> tuple[dict, float]:
    """One optimizer step after the micro-batches' backward passes; its losses and learning rate."""
    state, optimizer, scaler = run.state, run.optimizer, run.scaler
    task_losses, extra_losses, grad_norm = micro
    if grad_norm is None:  # the eager path clips here; a graphed step clipped inside its graph
        if scaler:
            scaler.unscale_(optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(run.named.values(), run.cfg.max_grad_norm)
    losses, grad_norm = host_values(task_losses, extra_losses, grad_norm)
    for hook in step_hooks.BEFORE_STEP:  # none in real runs (step_hooks.py)
        hook(state.global_step + 1, losses)
    lr = run.scheduler.get_last_lr()[0]
    _check_finite(losses, state, lr)  # before the step: NaN gradients must not reach the weights
    if not scaler:  # fp16's scaler skips steps with non-finite gradients itself
        _check_finite({**losses, "gradient_norm": grad_norm}, state, lr)
    if scaler:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    if not run.graphs:  # graphed steps zero their gradients in place (the graph writes those tensors)
        optimizer.zero_grad(set_to_none=True)
    run.scheduler.step()
    state.step_in_epoch += 1
    state.global_step += 1
    return losses, lr


def _accumulate(run: Training, batches):
    """Forward/backward over up to `grad_accum_steps` micro-batches: their task and extra losses
    (detached, still on the device) and, for a graphed step, the clipped gradients' norm (else
    None); or None if no batch was left."""
    if run.graphs:
        batch = next(batches, None)
        if batch is None:
            return None
        loss, extra, grad_norm = run.graphs(_to_device(batch, run.device))
        return [loss], [extra], grad_norm
    accum, scaler = run.cfg.grad_accum_steps, run.scaler
    task_losses, extra_losses = [], []
    for _ in range(accum):
        batch = next(batches, None)
        if batch is None:
            break
        loss, extra = _losses(run, _to_device(batch, run.device))
        (scaler.scale((loss + extra) / accum) if scaler else (loss + extra) / accum).backward()
        task_losses.append(loss.detach())
        extra_losses.append(extra.detach())
    return (task_losses, extra_losses, None) if task_losses else None


def _losses(run: Training, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch's task loss and extra loss (a zero tensor without one), under autocast."""
    inputs = {name: value for name, value in batch.items() if name != "labels"}
    with run.autocast:
        logits = run.model(**inputs)
        loss = torch.nn.functional.cross_entropy(logits.float(), batch["labels"])
        extra = run.extra_loss() if run.extra_loss else torch.zeros((), device=loss.device)
    return loss, extra


def _graphable_step(run: Training, batch: dict) -> cuda_graphs.StepOutputs:
    """One step's work up to the optimizer, with nothing that waits for the GPU and gradients
    zeroed in place: what trainer.cuda_graphs captures (and runs eagerly while warming up)."""
    run.optimizer.zero_grad(set_to_none=False)
    loss, extra = _losses(run, batch)
    (loss + extra).backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(run.named.values(), run.cfg.max_grad_norm)
    return loss.detach(), extra.detach(), grad_norm


def host_values(task_losses: list, extra_losses: list, grad_norm: torch.Tensor) -> tuple[dict, float]:
    """The step's mean losses and gradient norm as Python floats, read in one device-to-host copy:
    each read makes the host wait for the GPU, and three waits a step cost ~20% of a BERT-base
    step on an H200 (results/bench/gpu)."""
    values = torch.stack([*task_losses, *extra_losses, grad_norm]).float().tolist()
    n = len(task_losses)
    losses = {"loss": sum(values[:n]) / n, "extra_loss": sum(values[n : 2 * n]) / n}
    return losses, values[-1]


def _check_finite(losses: dict, state: LoopState, lr: float) -> None:
    if all(math.isfinite(v) for v in losses.values()):
        return
    others = ", ".join(
        f"{name.replace('_', ' ')} {value}" for name, value in losses.items() if name != "loss"
    )
    raise TrainingDiverged(
        f"loss became {losses['loss']} ({others}) at epoch {state.epoch + 1}, "
        f"step {state.global_step + 1}, learning rate {lr:.3g}; the last good checkpoint, if any, is kept. "
        "Try a lower trainer.lr or check the data."
    )


def _log_step(state: LoopState, losses: dict, lr: float, logger, bar_hidden: bool) -> None:
    if bar_hidden:
        log.info(
            "step %d: loss %.4f, extra %.5f, lr %.3g",
            state.global_step,
            losses["loss"],
            losses["extra_loss"],
            lr,
        )
    if logger:
        logger.log(
            {"train/loss": losses["loss"], "train/extra_loss": losses["extra_loss"], "train/lr": lr},
            step=state.global_step,
        )
