"""JSON-based raw formats.

- `jsonl`: one JSON object per line (SuperGLUE RTE/CB/BoolQ, CSQA, SocialIQA, Winogrande, CosmosQA).
- `crossfit_jsonl`: the CrossFit prompt copy of MNLI dev_matched, one object per line with
  `"input": "premise: P [SEP] hypothesis: H"` and `"output": label`.
- `json_records`: one JSON object mapping keys to records, `{"0": {"text_a": ..}, ..}` (the
  GLUE samples of MNLI and QQP).
"""

import json
from pathlib import Path

from afuse.data.readers.base import RawDataError, RawRecord, RecordStream, bad, open_text, undecodable

PROMPT_SEPARATOR = " [SEP] "


def read_jsonl(path: Path) -> RecordStream:
    with open_text(path) as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue  # a blank line (e.g. at the end of the file) is not a row
            if reason := undecodable(line):  # said before JSON's own complaint about the same bytes
                yield bad(line_number, reason)
                continue
            try:
                fields = json.loads(line.strip())
            except json.JSONDecodeError as exc:
                yield bad(line_number, f"invalid JSON ({exc.msg})")
                continue
            if not isinstance(fields, dict):
                yield bad(line_number, f"expected a JSON object, got {type(fields).__name__}")
                continue
            yield RawRecord(str(line_number), fields)


def parse_prompt(text: object) -> dict[str, str] | None:
    """`"premise: P [SEP] hypothesis: H"` -> {"premise": P, "hypothesis": H}; None if not that shape."""
    if not isinstance(text, str):
        return None
    parsed = {}
    for part in text.split(PROMPT_SEPARATOR):
        key, colon, value = part.partition(": ")
        if not colon or not key.strip().isidentifier():
            return None
        parsed[key.strip().lower()] = value
    return parsed


def read_crossfit_jsonl(path: Path) -> RecordStream:
    for record in read_jsonl(path):
        if record.problem:
            yield record
            continue
        parsed = parse_prompt(record.fields.get("input"))
        if parsed is None:
            yield bad(record.position, "'input' is not of the form 'key: text [SEP] key: text'")
            continue
        yield RawRecord(record.position, {**parsed, "output": record.fields.get("output")})


def read_json_records(path: Path) -> RecordStream:
    with open_text(path) as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as exc:
            raise RawDataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(data, dict):
        raise RawDataError(f"{path}: expected one JSON object mapping ids to records")
    for key, fields in data.items():
        if isinstance(fields, dict):
            yield RawRecord(str(key), fields)
        else:
            yield bad(key, f"expected a JSON object, got {type(fields).__name__}")
