"""`afuse predict run=<run dir> file=<path> [format=glue|superglue]`: label new text with a run.

Writes <run dir>/predict/<name>/predictions.parquet (id, predicted, per-class probabilities)
and, with format=, the leaderboard's submission file for the run's task (GLUE: RTE.tsv, MRPC.tsv,
SST-2.tsv, ...; SuperGLUE: CB.jsonl, BoolQ.jsonl, RTE.jsonl), one line per row of the file, with
the file's own ids. A submission needs every row: malformed rows stop it with their count.
"""

from omegaconf import DictConfig

from afuse.errors import ConfigError
from afuse.inference.output_owner import claim
from afuse.inference.outputs import (
    file_rows,
    infer_rows,
    open_trained,
    output_dir,
    outputs_owner,
    predictions_frame,
    write_parquet,
)
from afuse.inference.rawfile import existing_file
from afuse.inference.submission import submission_files, submission_for, write_submission


def main(cfg: DictConfig) -> None:
    if not cfg.file.path:
        raise ConfigError(
            "afuse predict needs the text to label: add file=<path> (afuse evaluate scores a split)"
        )
    if cfg.file.path:
        existing_file(cfg.file.path)  # before the model loads
    trained = open_trained(cfg)
    submission = submission_for(str(cfg.format), trained.task.name) if cfg.format else None
    rows = file_rows(cfg, trained, labelled=False, id_field=submission.id_field if submission else None)
    malformed = rows.counts["malformed"]["count"]
    if submission and malformed:
        first = rows.counts["malformed"]["examples"][0]
        raise ConfigError(
            f"file={cfg.file.path}: {malformed} of {rows.counts['read']} rows could not be read (first at "
            f"{first['position']}: {first['reason']}); a submission needs a prediction for every row"
        )
    out = output_dir(cfg, trained, "predict", rows)
    inference = infer_rows(cfg, trained, rows, "predicting")
    labels = trained.label_names()
    frame = predictions_frame(rows, inference.probabilities, labels, labelled=False)
    claim(out, outputs_owner("predict", trained, rows))
    for earlier in submission_files(trained.task.name):  # an earlier predict's: not of these rows
        if (out / earlier).is_file():
            (out / earlier).unlink()
    write_parquet(out / "predictions.parquet", frame)
    written = out / "predictions.parquet"
    if submission:
        written = write_submission(out, submission, rows.ids, frame["predicted"].tolist(), labels)
    counts = ", ".join(f"{label} {int((frame['predicted'] == i).sum())}" for i, label in enumerate(labels))
    skipped = f" ({malformed} malformed rows left out)" if malformed else ""
    print(f"afuse predict: {trained.task.name}: {len(frame)} rows labelled{skipped} ({counts}) -> {written}")
