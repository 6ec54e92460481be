"""Prepare every task from the Hugging Face Hub and compare it with the numbers its config records.

    python experiments/check_hub.py                    # all 15 Hub tasks, into data/hub-check/
    python experiments/check_hub.py rte siqa --force   # some tasks; --force downloads/prepares again

Each task's `hub.expected` (conf/task/<task>.yaml) holds the official split sizes from the
dataset card and, where the same split's official files are in ../shared/data, its label counts.
The check prepares the task exactly as `afuse prepare-data task=<task> data.source=hub` does
(script datasets through the parquet export, labels mapped, broken splits refused) and prints one
line per task: `ok`, `MISMATCH` (what differs) or `FAILED` (afuse's error). Exit status 0 when
every task is ok, 1 otherwise, 4 when the Hub cannot be reached (one line, nothing checked).
Needs internet; the downloads are cached by `datasets` as usual (MNLI, QQP and IMDB are the large ones).
"""

import argparse
import json
import logging
import sys
from pathlib import Path

from huggingface_hub import constants
from omegaconf import OmegaConf

from afuse.config import task_config, task_names
from afuse.data.prepare import MANIFEST, prepare_task
from afuse.errors import AfuseError, OfflineError
from afuse.paths import conf_dir

OFFLINE_EXIT = OfflineError.exit_code


def hub_tasks() -> list[str]:
    return [task for task in task_names() if task_config(task).get("hub")]


def differences(manifest: dict, expected: dict) -> list[str]:
    """What in the prepared task's official splits differs from the recorded numbers."""
    found = manifest["official_splits"]
    problems = []
    for split, numbers in expected.items():
        if split not in found:
            problems.append(f"no official {split} split")
            continue
        if found[split]["rows"] != numbers["rows"]:
            problems.append(f"{split} {found[split]['rows']} rows, expected {numbers['rows']}")
        labels = numbers.get("labels")
        if labels and found[split]["label_distribution"] != labels:
            problems.append(f"{split} labels {found[split]['label_distribution']}, expected {labels}")
    return problems


def summary(manifest: dict, expected: dict) -> str:
    return ", ".join(
        f"{split} {manifest['official_splits'][split]['rows']}"
        + (" (labels too)" if numbers.get("labels") else "")
        for split, numbers in expected.items()
    )


def check(task: str, data_cfg, paths_cfg, force: bool) -> tuple[bool, str]:
    config = task_config(task)
    expected = OmegaConf.to_container(config.hub.get("expected") or {})
    prepared = prepare_task(config, data_cfg, paths_cfg, force=force)
    manifest = json.loads((prepared / MANIFEST).read_text())
    problems = differences(manifest, expected)
    if problems:
        return False, "MISMATCH  " + "; ".join(problems)
    return True, "ok        " + summary(manifest, expected)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", help="tasks to check (default: every task with a Hub source)")
    parser.add_argument("--data", default="data/hub-check", help="paths.data for the prepared copies")
    parser.add_argument(
        "--force", action="store_true", help="prepare again even if a prepared copy is current"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    data_cfg = OmegaConf.load(conf_dir() / "data" / "default.yaml")
    data_cfg.source, data_cfg.raw_dir = "hub", None
    paths_cfg = OmegaConf.create({"data": str(Path(args.data).resolve())})
    all_ok = True
    for task in args.tasks or hub_tasks():
        try:
            ok, line = check(task, data_cfg, paths_cfg, args.force)
        except OfflineError:
            print(
                f"check_hub: cannot reach the Hugging Face Hub at {constants.ENDPOINT}; nothing was checked: "
                "run it on a machine with internet (HF_ENDPOINT=<url> for a mirror)"
            )
            return OFFLINE_EXIT
        except AfuseError as error:
            ok, line = False, f"FAILED    {error}"
        print(f"{task:<11} {line}", flush=True)
        all_ok &= ok
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
