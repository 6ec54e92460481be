"""GPU check, part 3 (the anchor's side): the GPU variant of ../shared/anchors/adapters_bench.py.

The same steps as the anchor (AdapterHub `adapters` 1.3.0: SeqBn rf 16, Fuse over N adapters,
"dynamic" fusion, AdamW), on the shapes afuse_step.py uses: a BERT-base-shaped encoder with random
weights, batch 32 × 128, bf16 autocast, CUDA-event timing. Runs in its own environment
(transformers 4.57), so it imports nothing of afuse.

    PYTHONPATH=<adapters site> python experiments/gpu/adapters_step.py --device cuda --fuse 0 2 8 16
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import adapters
import torch
import torch.nn.functional as F
from adapters import BertAdapterModel, SeqBnConfig
from adapters.composition import Fuse
from transformers import BertConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))

from step_timing import BERT_BASE, QUICK, arguments, autocast, line, random_batch, time_steps  # noqa: E402


def build(n_fuse: int, shape: dict, device: torch.device, rf: float):
    """As the anchor's build(), on a random BERT-base-shaped encoder."""
    torch.manual_seed(0)
    model = BertAdapterModel(BertConfig(**shape))
    names = [f"a{i}" for i in range(max(n_fuse, 1))]
    for name in names:
        model.add_adapter(name, config=SeqBnConfig(reduction_factor=rf))
    model.add_classification_head("t", num_labels=2)
    if n_fuse:
        model.add_adapter_fusion(Fuse(*names), "dynamic")
        model.set_active_adapters(Fuse(*names))
        model.train_adapter_fusion(Fuse(*names))
    else:
        model.train_adapter(names[0])
        model.set_active_adapters(names[0])
    return model.to(device).train()


def make_step(model, params, batch, device: torch.device):
    x, mask, y = batch
    opt = torch.optim.AdamW(params, lr=1e-4, fused=device.type == "cuda" or None)

    def step():
        with autocast(device):
            out = model(input_ids=x, attention_mask=mask)
            loss = F.cross_entropy(out.logits.float(), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def main(argv=None) -> None:
    ap = arguments(__doc__.splitlines()[0])
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    shape = QUICK if args.quick else BERT_BASE
    start = time.monotonic()
    for n in args.fuse:
        if args.deadline and time.monotonic() - start > args.deadline:
            print(
                f"adapters fuse_n={n} variant=step skipped: past the {args.deadline:.0f} s deadline",
                flush=True,
            )
            continue
        model = build(n, shape, device, args.reduction_factor)
        params = [p for p in model.parameters() if p.requires_grad]
        step = make_step(model, params, random_batch(args.batch, args.length, device), device)
        result = time_steps(step, device, args.steps, args.warmup)
        trainable = sum(p.numel() for p in params)
        print(line(f"adapters {adapters.__version__}", n, result, trainable, " variant=step"), flush=True)
        del model, step, params
        if device.type == "cuda":
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
