"""GPU check, part 1b: training with trainer.cuda_graphs=true against the same training run eagerly.

afuse's own loop (train/loop.py: fit) trains a small random BERT for 3 epochs on synthetic rows
of mixed lengths (batches padded to 32 and 64 tokens, and an epoch's smaller last batch), once
eagerly and once with its steps replayed as CUDA graphs, for ST-A, Houlsby and Fusion over 16
adapters (with its ||V - I||² term). Dropout is off, so both runs compute the same function:
every step's training loss and every epoch's validation loss must agree within a relative 1e-4
in fp32 (TF32 off) and 2e-2 under bf16 autocast. A graph that read a stale batch, missed a
gradient or stepped twice would be off by far more within a few steps. The largest difference
of the trained weights is reported, not judged: the captured kernels run on another stream and
cuBLAS may pick other algorithms there, and AdamW turns a last-bit change of a near-zero
gradient into a step of the full learning rate in that coordinate.

On a CPU (the check's --device cpu mode) a stand-in capture re-runs the step instead of
replaying a graph: that proves this script and the loop's plumbing, not the graphs.

    python experiments/gpu/graphed_training.py --device cuda
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from correctness import build  # noqa: E402

from afuse.data import Collator  # noqa: E402
from afuse.train import cuda_graphs, step_hooks  # noqa: E402
from afuse.train.fusion_stage import value_penalty  # noqa: E402
from afuse.train.loop import TaskData, fit  # noqa: E402
from tests.from_conf import trainer_settings  # noqa: E402

FP32_TOLERANCE = 1e-4  # relative, of every training and validation loss
BF16_TOLERANCE = 2e-2
ROWS, BATCH, EPOCHS = 140, 16, 3  # 8 full batches and one of 12 an epoch


class Rows(list):
    """A split as the loop reads it: a row by index, a column by name."""

    def __getitem__(self, key):
        return [row[key] for row in self] if isinstance(key, str) else super().__getitem__(key)


def synthetic_rows(n: int, seed: int, vocab: int = 300) -> Rows:
    g = torch.Generator().manual_seed(seed)
    rows = Rows()
    for _ in range(n):
        length = int(torch.randint(8, 57, (), generator=g))
        ids = torch.randint(5, vocab, (length,), generator=g).tolist()
        rows.append(
            {
                "input_ids": ids,
                "attention_mask": [1] * length,
                "labels": int(torch.randint(0, 3, (), generator=g)),
            }
        )
    return rows


def loop_settings(device: str, graphs: bool, amp: bool):
    return trainer_settings(
        device=device, cuda_graphs=graphs, amp=amp, lr=1e-3, max_epochs=EPOCHS, patience=EPOCHS,
        batch_size=BATCH, eval_batch_size=32, progress_bar=False, checkpoint_every_minutes=None,
    )  # fmt: skip


def without_dropout(model: torch.nn.Module) -> torch.nn.Module:
    for module in model.modules():  # BERT's attention dropout reads its module's p too
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    if model.fusion is not None:
        model.fusion.spec = dataclasses.replace(model.fusion.spec, score_dropout=0.0)
    return model


def train(case: str, n_sources: int, device: str, graphs: bool, amp: bool, work: Path) -> tuple[dict, list]:
    """The trained weights (on the CPU) and the losses of one run: every step's, then every epoch's
    validation loss."""
    model, kind = build(case, n_sources)
    model.trainable_for(kind)
    without_dropout(model)
    splits = {
        "train": synthetic_rows(ROWS, 0),
        "validation": synthetic_rows(48, 1),
        "test": synthetic_rows(48, 2),
    }
    collate = Collator(0, pad_to_multiple_of=cuda_graphs.PAD_MULTIPLE)
    cfg = loop_settings(device, graphs, amp)
    data = TaskData(splits, collate, cfg.batch_size, cfg.eval_batch_size, seed=3)
    extra = value_penalty(model) if kind == "fusion" else None
    run_dir = work / f"{case}{n_sources}-{'graphs' if graphs else 'eager'}-{'bf16' if amp else 'fp32'}"
    step_losses = []
    step_hooks.BEFORE_STEP.append(lambda step, losses: step_losses.append(losses["loss"]))
    try:
        result = fit(model, data, cfg, run_dir, seed=3, extra_loss=extra)
    finally:
        step_hooks.BEFORE_STEP.pop()
    weights = {n: p.detach().float().cpu() for n, p in model.named_parameters() if p.requires_grad}
    return weights, step_losses + [row["loss"] for row in result.history]


def compare(name: str, case: str, n_sources: int, device: str, amp: bool, work: Path) -> dict:
    title = f"graphed training, {name}, {'bf16 autocast' if amp else 'fp32'}"
    check = f"fit with trainer.cuda_graphs=true vs eager on {device}, {EPOCHS} epochs, dropout off"
    try:
        eager_w, eager_losses = train(case, n_sources, device, False, amp, work)
        graph_w, graph_losses = train(case, n_sources, device, True, amp, work)
    except Exception as exc:  # a capture that fails is this case's finding; the check goes on
        if device == "cuda":
            torch.cuda.synchronize()
        return {
            "name": title,
            "check": check,
            "error": f"{type(exc).__name__}: {str(exc)[:300]}",
            "passed": False,
        }
    weight_diff = max(float((eager_w[k] - graph_w[k]).abs().max()) for k in eager_w)
    loss_rel = max(abs(a - b) / abs(a) for a, b in zip(eager_losses, graph_losses, strict=True))
    tolerance = BF16_TOLERANCE if amp else FP32_TOLERANCE
    return {
        "name": title,
        "check": check,
        "loss_max_rel_diff": loss_rel,
        "weights_max_abs_diff": weight_diff,  # reported, not judged (the docstring says why)
        "losses": {"eager": eager_losses, "graphs": graph_losses},
        "tolerance": tolerance,
        "passed": loss_rel <= tolerance,
    }


def use_stand_in_capture() -> None:
    """Without CUDA, trainer.cuda_graphs runs on a stand-in for the graph (what the check's CPU
    mode exercises: this script and the loop's plumbing, not the graphs)."""
    cuda_graphs.check_supported = lambda *args, **kwargs: None
    cuda_graphs.cuda_graph_capture = cuda_graphs.stand_in_capture


def cases(device: torch.device) -> list[dict]:
    if device.type != "cuda":
        use_stand_in_capture()
    settings = [("ST-A", "st_a", 0), ("Houlsby", "houlsby", 0), ("Fusion N=16", "fusion", 16)]
    with tempfile.TemporaryDirectory() as work:
        results = [compare(name, case, n, str(device), False, Path(work)) for name, case, n in settings]
        if device.type == "cuda":
            results += [compare(name, case, n, str(device), True, Path(work)) for name, case, n in settings]
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args(argv)
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 for the comparison
    torch.backends.cudnn.allow_tf32 = False
    results = cases(torch.device(args.device))
    print(json.dumps(results, indent=2))
    return 0 if all(r["passed"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
