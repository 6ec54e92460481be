"""`afuse evaluate run=<run dir> [split=test|validation|train | file=<path>]`: score a finished run.

Writes <run dir>/eval/<name>/metrics.json (accuracy, per-class precision/recall/F1, confusion
matrix, majority-class rate, row counts, the scored data's sha256), predictions.parquet (id, gold,
predicted, per-class probabilities) and, for Fusion runs, activations.json over the scored rows.
The run's own files are only read. Prints one line: accuracy and majority rate.
"""

import logging
import time
from datetime import UTC, datetime

from omegaconf import DictConfig

from afuse import __version__
from afuse.atomic import atomic_write_json
from afuse.data_record import recorded_split
from afuse.errors import ConfigError
from afuse.inference.output_owner import claim
from afuse.inference.outputs import (
    file_rows,
    infer_rows,
    open_trained,
    output_dir,
    outputs_owner,
    predictions_frame,
    split_rows,
    write_parquet,
)
from afuse.inference.rawfile import existing_file
from afuse.inference.scores import classification_scores

log = logging.getLogger(__name__)


def main(cfg: DictConfig) -> None:
    if cfg.file.path and cfg.split:
        raise ConfigError("give split=<test|validation|train> or file=<path>, not both")
    if cfg.file.path:
        existing_file(cfg.file.path)  # before the model loads
    trained = open_trained(cfg)
    rows = (
        file_rows(cfg, trained, labelled=True)
        if cfg.file.path
        else split_rows(cfg, trained, cfg.split or "test")
    )
    same_data = _same_data_as_run(trained, rows)
    out = output_dir(cfg, trained, "eval", rows)
    started = time.perf_counter()
    inference = infer_rows(cfg, trained, rows, "evaluating", activations=trained.is_fusion)
    elapsed = time.perf_counter() - started
    labels = trained.label_names()
    frame = predictions_frame(rows, inference.probabilities, labels, labelled=True)
    scores = classification_scores(frame["gold"].to_numpy(), frame["predicted"].to_numpy(), labels)
    metrics = _metrics(cfg, trained, rows, scores, inference.loss, elapsed)
    metrics["same_data_as_run"] = same_data
    # metrics.json marks the folder evaluated: a rerun into it removes the previous one first, so
    # a rerun stopped half way never leaves it beside predictions of another file.
    if (out / "metrics.json").is_file():
        (out / "metrics.json").unlink()
    claim(out, outputs_owner("eval", trained, rows))
    write_parquet(out / "predictions.parquet", frame)
    if inference.recorder is not None:
        name = rows.source.get("split") or rows.source["file"]
        atomic_write_json(out / "activations.json", inference.recorder.to_json(trained.task.name, name))
    atomic_write_json(out / "metrics.json", metrics)  # last: its presence means the evaluation is complete
    print(_summary_line(trained, rows, metrics, out))


def _same_data_as_run(trained, rows) -> bool | None:
    """Whether the split scored here is the file the run read (by sha256); None where it cannot be
    told (a file=, an AdapterHub adapter, a run made before afuse recorded its data). A split
    prepared again since from other raw files, or in another paths.data, is said in one line:
    its scores are not comparable with the run's own."""
    split = rows.source.get("split")
    then = recorded_split(trained.metrics, trained.task.name, split) if split else None
    if then is None:
        return None
    if then != rows.source["sha256"]:
        log.warning(
            "%s: %s's %s split here (%s) is not the one the run read (its metrics.json records sha256 "
            "%s…, this file has %s…): prepared again since from other raw files, or another paths.data's copy; "
            "these scores are not comparable with the run's own",
            trained.where,
            trained.task.name,
            split,
            rows.source["prepared"],
            then[:12],
            rows.source["sha256"][:12],
        )
        return False
    return True


def _metrics(cfg, trained, rows, scores: dict, loss: float | None, elapsed: float) -> dict:
    recorded = trained.recorded_test()
    metrics = {
        "afuse_version": __version__,
        "command": "evaluate",
        "run": str(trained.where),
        "kind": trained.kind,
        "model": str(trained.cfg.model.name),
        "task": trained.task.name,
        "seed": trained.cfg.get("seed"),
        "source": rows.source,
        **scores,
        "loss": loss,
        "rows": rows.counts,
        "timing": {"eval_s": round(elapsed, 3), "examples_per_s": round(scores["n"] / max(elapsed, 1e-9), 1)},
        "evaluated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if rows.source.get("split") == "test" and recorded is not None:
        metrics["recorded_test_accuracy"] = recorded.get("accuracy")
    return metrics


def _summary_line(trained, rows, metrics: dict, out) -> str:
    what = f"{rows.source['split']} split" if "split" in rows.source else rows.source["file"]
    recorded = metrics.get("recorded_test_accuracy")
    same = ""
    if recorded is not None:
        same = (
            " (= the run's own)" if recorded == metrics["accuracy"] else f" (the run recorded {recorded:.4f})"
        )
        if metrics["same_data_as_run"] is False:
            same = f" (the run recorded {recorded:.4f} on other data)"
    return (
        f"afuse evaluate: {trained.task.name} {what}: accuracy {metrics['accuracy']:.4f}{same}, "
        f"majority class {metrics['majority_rate']:.4f}, {metrics['n']} rows -> {out / 'metrics.json'}"
    )
