"""One Markdown row per finished run of a records folder, in the order the runs finished.

    python experiments/run_table.py results/cpu_minilm_full/runs

The results READMEs list every run this way (rows, epochs, early stopping, wall time, validation
and test accuracy), so that each figure there can be traced to a committed metrics.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from afuse.run_identity import find_run_dirs
from afuse.runs import is_complete, read_metrics

HEADER = (
    "| run | train rows | epochs run (best) | stopped early | train + test wall time "
    "| validation acc. | test acc. (n) | finished (UTC) |\n"
    "| :-- | --: | :-- | :-- | --: | --: | --: | :-- |"
)


def row(metrics: dict) -> str:
    timing = metrics.get("timing", {})
    minutes = (timing.get("train_s", 0.0) + timing.get("test_eval_s", 0.0)) / 60
    best = max((h["accuracy"] for h in metrics.get("history", [])), default=metrics["validation"]["accuracy"])
    test = metrics["test"]
    return (
        f"| {metrics['kind']} {metrics['variant']} {metrics['task']} seed {metrics['seed']} "
        f"| {metrics.get('train_examples', '–')} "
        f"| {metrics.get('epochs_run', '–')} ({metrics.get('best_epoch', '–')}) "
        f"| {'yes' if metrics.get('stopped_early') else 'no'} "
        f"| {minutes:.1f} min | {100 * best:.2f} | {100 * test['accuracy']:.2f} ({test['n']}) "
        f"| {metrics.get('finished_at', '')[11:19]} |"
    )


def table(records: Path) -> str:
    runs = [read_metrics(run.path) for run in find_run_dirs(records) if is_complete(run.path)]
    runs.sort(key=lambda m: m.get("finished_at", ""))
    return "\n".join([HEADER, *(row(m) for m in runs)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "records", type=Path, help="a results folder's runs/, e.g. results/cpu_minilm_full/runs"
    )
    args = parser.parse_args()
    if not args.records.is_dir():
        raise SystemExit(f"{args.records} is not a directory: pass a results folder's runs/")
    print(table(args.records))


if __name__ == "__main__":
    main()
