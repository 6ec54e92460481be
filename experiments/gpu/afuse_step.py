"""GPU check, part 3 (afuse's side): one training step of ST-A and of Fusion over N adapters on a
BERT-base-shaped encoder (random weights), batch 32 × length 128, bf16 autocast, AdamW.

Prints one line per setting, in the anchor's format plus peak memory (step_timing.line):
    afuse fuse_n=16 step_s=0.01234 trainable=... peak_mib=... variant=step
Variants: `step` (forward, backward, AdamW: what adapters_step.py times for the library),
`loop` (afuse's training loop's own step, train/loop.py: its forward/backward, clipping, reading
the losses and gradient norm back to the host, the finite check, fused AdamW, the schedule),
`loop_graphs` (the same with trainer.cuda_graphs=true: what a user's run gets), `compile`
(torch.compile), `graph` (the whole step, optimizer included, as one CUDA graph: the GPU's own
time for the step, without launch costs).

    python experiments/gpu/afuse_step.py --device cuda --fuse 0 2 8 16 32 64
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import BertConfig, BertModel

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from step_timing import BERT_BASE, QUICK, arguments, autocast, line, random_batch, time_steps  # noqa: E402

from afuse.modeling import AfuseModel  # noqa: E402
from afuse.train import loop  # noqa: E402
from afuse.train.fusion_stage import value_penalty  # noqa: E402
from experiments.bench_common import set_up_step  # noqa: E402


def build(n_fuse: int, shape: dict, device: torch.device, rf: float):
    torch.manual_seed(0)
    model = AfuseModel(BertModel(BertConfig(**shape), add_pooling_layer=False), "bert")
    params = set_up_step(model, n_fuse, rf)
    return model.to(device).train(), params


def make_step(model, params, batch, device, variant: str, fused: bool):
    if variant == "graph":
        return graphed_step(model, params, batch, device)
    if variant in ("loop", "loop_graphs"):
        return loop_step(model, batch, device, graphs=variant == "loop_graphs")
    x, mask, y = batch
    opt = torch.optim.AdamW(params, lr=1e-4, fused=fused or None)
    forward = torch.compile(model) if variant == "compile" else model

    def step():
        with autocast(device):
            loss, extra = losses(model, forward, x, mask, y)
        (loss + extra if extra is not None else loss).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def loop_step(model, batch, device, graphs: bool):
    """One step of afuse's training loop as fit() runs it (train/loop.py: _accumulate, then _step),
    set up by its own _prepare from conf/trainer/default.yaml; batch size as the timed batch."""
    from tests.from_conf import trainer_settings  # conf/trainer/default.yaml, a misspelt key refused

    x, mask, y = batch
    cfg = trainer_settings(
        device=str(device), cuda_graphs=graphs, lr=1e-4, max_epochs=1, batch_size=len(y), progress_bar=False
    )
    # The schedule needs a step count: a dataset long enough that the timed steps keep lr > 0.
    data = loop.TaskData({"train": [None] * 100_000}, None, len(y), len(y), seed=0)
    fusing = model.fusion is not None and model.fusion_active
    run = loop._prepare(model, data, cfg, value_penalty(model) if fusing else None, logger=None)
    inputs = {"input_ids": x, "attention_mask": mask, "labels": y}

    def step():
        loop._step(run, loop._accumulate(run, iter([inputs])))

    return step


def losses(model, forward, x, mask, y):
    """The task loss and, for a fusion, the paper's λ·||V - I||² term."""
    logits = forward(input_ids=x, attention_mask=mask)
    loss = F.cross_entropy(logits.float(), y)
    if model.fusion is None or not model.fusion_active:
        return loss, None
    return loss, model.fusion.spec.regularization * model.fusion_regularization()


def graphed_step(model, params, batch, device):
    """The whole step (forward, backward, AdamW) captured once as a CUDA graph and replayed: no
    per-kernel launch cost at all, so its time is what the GPU itself needs for the step (PyTorch's
    "whole network capture"; static shapes, capturable optimizer, autocast without its cache)."""
    x, mask, y = batch
    opt = torch.optim.AdamW(params, lr=1e-4, capturable=True, foreach=True)

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False):
            loss, extra = losses(model, model, x, mask, y)
        (loss + extra if extra is not None else loss).backward()
        opt.step()

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            opt.zero_grad(set_to_none=True)
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    opt.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        step()
    return graph.replay


def main(argv=None) -> None:
    ap = arguments(__doc__.splitlines()[0])
    ap.add_argument(
        "--variants", nargs="+", default=["step"], choices=["step", "loop", "loop_graphs", "compile", "graph"]
    )
    ap.add_argument(
        "--variant-fuse", type=int, nargs="*", default=[0, 16], help="settings of the extra variants"
    )
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type != "cuda" and "loop_graphs" in args.variants:
        from graphed_training import use_stand_in_capture

        use_stand_in_capture()  # the CPU mode proves the code path; its times mean nothing
    shape = QUICK if args.quick else BERT_BASE
    start = time.monotonic()
    plan = [(n, "step") for n in args.fuse]
    plan += [(n, v) for v in args.variants if v != "step" for n in args.variant_fuse]
    for n, variant in plan:
        if args.deadline and time.monotonic() - start > args.deadline:
            print(
                f"afuse fuse_n={n} variant={variant} skipped: past the {args.deadline:.0f} s deadline",
                flush=True,
            )
            continue
        model, params = build(n, shape, device, args.reduction_factor)
        batch = random_batch(args.batch, args.length, device)
        t0 = time.monotonic()
        try:
            step = make_step(model, params, batch, device, variant, fused=device.type == "cuda")
            result = time_steps(step, device, args.steps, args.warmup)
        except Exception as exc:  # a compile or capture failure is a finding, not the end of the check
            print(
                f"afuse fuse_n={n} variant={variant} failed: {type(exc).__name__}: {str(exc)[:200]}",
                flush=True,
            )
            continue
        trainable = sum(p.numel() for p in params)
        extra = f" variant={variant} setup_s={time.monotonic() - t0:.1f}"
        print(line("afuse", n, result, trainable, extra), flush=True)
        del model, params, step
        if device.type == "cuda":
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
