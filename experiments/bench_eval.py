"""Evaluation vs training throughput of the same model on the same rows, in one sitting.

    PYTHONPATH=. .venv/bin/python experiments/bench_eval.py --out results/bench/eval.md --json results/bench/eval.json

The model is MiniLM with an ST-A adapter (Pfeiffer, rf 16) and its head; the rows are a task's
test split as afuse prepares it (RTE: 277 pairs, ../shared/data). Each round times, on those rows:

- training: one pass in the loop's seeded order and batch size (forward, backward, AdamW step);
- `afuse evaluate`'s inference (afuse/inference/batching.py): length-sorted batches, padding to
  each batch's longest row, inference_mode, the first-token shortcut;
- the training loop's evaluation (afuse/train/loop.py `evaluate`): batches in split order,
  no_grad, the same shortcut — what evaluation cost before length sorting.

Rounds alternate the three, so each ratio compares measurements made under the same machine load
(these machines are shared); the report gives medians over rounds. The target of issue 15 is an
evaluation throughput of at least 3x the training throughput.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from afuse.config import task_config  # noqa: E402
from afuse.data import Collator, load_tokenized  # noqa: E402
from afuse.inference.batching import infer, token_counts  # noqa: E402
from afuse.modeling import AdapterSpec, AfuseModel, load_backbone  # noqa: E402
from afuse.paths import conf_dir  # noqa: E402
from afuse.train.loop import EpochOrder, _loader, evaluate  # noqa: E402
from experiments.bench_common import command_block, dump_json  # noqa: E402


def setup(args):
    task = task_config(args.task)
    data = OmegaConf.create(
        {"source": "local", "raw_dir": str(args.raw_dir), "max_train_examples": None, "max_test_examples": None,
         "per_task": {}, "split_seed": 42, "validation_fraction": 0.1, "validation_max_examples": 2000}
    )  # fmt: skip
    paths = OmegaConf.create({"data": str(args.data)})
    encoder, tokenizer, tokenizer_id = load_backbone(OmegaConf.load(conf_dir() / "model" / "minilm.yaml"))
    rows = load_tokenized(task, data, paths, tokenizer, tokenizer_id)["test"]
    torch.manual_seed(1)
    model = AfuseModel(encoder, family="bert")
    model.add_adapter(args.task, AdapterSpec("pfeiffer", 16, "relu"))
    model.add_head(args.task, task)
    model.set_active(adapter=args.task, head=args.task)
    params = model.trainable_for("adapter")
    collate = Collator(tokenizer.pad_token_id, multiple_choice=task.kind == "multiple_choice")
    return model, params, rows, collate


def train_pass(model, params, rows, collate, batch_size: int, seed: int) -> float:
    """Seconds for one training pass over `rows`, as the loop does it."""
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    model.train()
    started = time.perf_counter()
    for batch in _loader(rows, collate, batch_size, sampler=EpochOrder(len(rows), seed, 0)):
        labels = batch.pop("labels")
        loss = torch.nn.functional.cross_entropy(model(**batch), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - started


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="rte")
    ap.add_argument("--raw-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--data", type=Path, default=ROOT / "data")
    ap.add_argument("--train-batch", type=int, default=16, help="cpu_minilm's trainer.batch_size")
    ap.add_argument("--eval-batch", type=int, default=64, help="afuse evaluate's batch_size")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, params, rows, collate = setup(args)
    n = len(rows)
    cpu = torch.device("cpu")

    def afuse_eval():
        infer(model, rows, collate, args.eval_batch, cpu, progress=False)

    def loop_eval():
        evaluate(model, _loader(rows, collate, args.eval_batch), cpu, "auto", rows)

    afuse_eval(), loop_eval()  # warm-up: first calls allocate
    rounds = []
    for r in range(args.rounds):
        train_s = train_pass(model, params, rows, collate, args.train_batch, seed=r)
        rounds.append({"train_s": train_s, "evaluate_s": timed(afuse_eval), "loop_eval_s": timed(loop_eval)})
        print(f"round {r + 1}: " + ", ".join(f"{k} {v:.2f}" for k, v in rounds[-1].items()), flush=True)

    def median(key):
        return statistics.median(x[key] for x in rounds)

    ratios = [x["train_s"] / x["evaluate_s"] for x in rounds]
    loop_ratios = [x["train_s"] / x["loop_eval_s"] for x in rounds]
    counts = token_counts(rows)
    summary = {
        "rows": n,
        "tokens_mean": float(counts.mean()),
        "tokens_max": int(counts.max()),
        "train_rows_per_s": n / median("train_s"),
        "evaluate_rows_per_s": n / median("evaluate_s"),
        "loop_eval_rows_per_s": n / median("loop_eval_s"),
        "evaluate_over_train": statistics.median(ratios),
        "evaluate_over_train_rounds": ratios,
        "loop_eval_over_train": statistics.median(loop_ratios),
        "rounds": rounds,
    }
    report = render(args, summary, argv if argv is not None else sys.argv[1:])
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)
    dump_json(args.json, {"settings": {k: str(v) for k, v in vars(args).items()}, "results": summary})


def render(args, s: dict, argv: list[str]) -> str:
    import platform

    import transformers

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    verdict = "meets" if s["evaluate_over_train"] >= 3 else "misses"
    return "\n".join(
        [
            "# Evaluation vs training throughput (same model, same rows, one sitting)",
            "",
            f"MiniLM-L6 + ST-A (Pfeiffer, rf 16) and head; the {s['rows']} rows of {args.task}'s test split "
            f"({s['tokens_mean']:.0f} tokens on average, at most {s['tokens_max']}); {args.threads} torch thread(s); "
            f"{args.rounds} rounds, each timing all three in turn; medians over rounds.",
            f"Machine: {cpu}, {platform.node()}, shared with other jobs; torch {torch.__version__}, "
            f"transformers {transformers.__version__}, {torch.backends.cpu.get_cpu_capability()} kernels.",
            "",
            "| what | batch | rows/s | vs training |",
            "| :-- | --: | --: | --: |",
            f"| training pass (forward, backward, AdamW) | {args.train_batch} | {s['train_rows_per_s']:.1f} | 1.00x |",
            f"| `afuse evaluate` (length-sorted, inference_mode) | {args.eval_batch} | {s['evaluate_rows_per_s']:.1f} | "
            f"**{s['evaluate_over_train']:.2f}x** |",
            f"| training loop's evaluation (split order, no_grad) | {args.eval_batch} | {s['loop_eval_rows_per_s']:.1f} | "
            f"{s['loop_eval_over_train']:.2f}x |",
            "",
            "Evaluation throughput / training throughput per round: "
            + ", ".join(f"{r:.2f}x" for r in s["evaluate_over_train_rounds"])
            + f". The issue's target is at least 3x: this {verdict} it.",
            "",
            *command_block("experiments/bench_eval.py", argv),
        ]
    )


if __name__ == "__main__":
    main()
