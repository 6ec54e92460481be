"""afuse's one normalised schema for every task, as stored in prepared/<task>/<split>.parquet.

id       str              unique within the task: "<source file or Hub split>:<row id or position>"
text_a   str              the sentence, the premise, or (multiple choice) the context + question
text_b   str | null       the second sentence of a pair task
choices  list[str] | null multiple choice only: each choice is paired with text_a
label    int              index into the task's `labels`; multiple choice: the correct choice
"""

import pandas as pd
import pyarrow as pa

SPLITS = ("train", "validation", "test")
COLUMNS = ("id", "text_a", "text_b", "choices", "label")

PREPARED_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text_a", pa.string(), nullable=False),
        pa.field("text_b", pa.string()),
        pa.field("choices", pa.list_(pa.string())),
        pa.field("label", pa.int64(), nullable=False),
    ]
)


def empty_frame() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=object) for column in COLUMNS}).astype({"label": "int64"})


def to_frame(rows: list[dict]) -> pd.DataFrame:
    if not rows:
        return empty_frame()
    return pd.DataFrame.from_records(rows, columns=list(COLUMNS)).astype({"label": "int64"})


def to_table(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame.reset_index(drop=True), schema=PREPARED_SCHEMA, preserve_index=False)
