"""A user's file of examples -> afuse's schema rows, through prepare-data's readers and rules.

    rows = read_file(path, task_cfg, file_cfg, labelled=True)

The file is read by the same readers (afuse/data/readers) and normalised by the same Normalizer
(fields, label spellings and aliases, malformed rows counted and listed, never dropped silently)
as `prepare-data`. What differs is how its layout is known:

- format: `file.format`, else the file's suffix (.jsonl .tsv .csv .json), else the task's own raw
  format;
- columns: a headerless TSV names its columns in order, `file.columns=[label,sentence]
  file.header=false` (with `file.header=true` the first line is skipped as a header);
- fields: `file.fields={text_a: sentence, label: label}`, else the first of the task's own field
  mappings (its local files', then its Hub copy's) that reads the file's first rows.

Each row keeps the file's own id (`file.fields.id`, else the task's id field, else GLUE's `index`
or SuperGLUE's `idx`, else its line number), for predictions and submission files.
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from afuse.data.normalize import Normalizer, RowProblem, lookup, plain
from afuse.data.readers import READERS, RawRecord
from afuse.data.source_read import MalformedLog, sha256_file
from afuse.errors import ConfigError, MissingInputError

log = logging.getLogger(__name__)

SUFFIX_FORMATS = {".jsonl": "jsonl", ".tsv": "tsv", ".csv": "csv", ".json": "json_records"}
ID_FALLBACKS = ("index", "idx", "id")  # GLUE TSVs, SuperGLUE JSONL, others
PROBE_ROWS = 20  # rows tried when choosing among the task's field mappings


@dataclass
class FileRows:
    path: Path
    sha256: str
    format: str
    fields: dict  # schema column -> the file's field, as used
    rows: list[dict]  # schema rows (label -1 when unlabelled)
    ids: list  # the file's own id of each row
    records: int  # rows the file holds (used + malformed)
    malformed: MalformedLog = field(default_factory=MalformedLog)

    def malformed_summary(self) -> dict:
        entry = self.malformed.to_manifest()
        examples = [e for f in entry["files"].values() for e in f["examples"]]
        return {"count": entry["total"], "examples": examples}


def _file_option(file_cfg: DictConfig, key: str):
    value = file_cfg.get(key) if file_cfg is not None else None
    return plain(value)


def file_format(path: Path, file_cfg: DictConfig, task_cfg: DictConfig) -> str:
    chosen = _file_option(file_cfg, "format") or SUFFIX_FORMATS.get(path.suffix.lower())
    chosen = chosen or task_cfg.local.get("format")
    if chosen not in READERS:
        raise ConfigError(f"file.format={chosen!r} is not a known format; valid: {', '.join(READERS)}")
    return chosen


def _records(path: Path, fmt: str, file_cfg: DictConfig) -> list[RawRecord]:
    columns, header = _file_option(file_cfg, "columns"), _file_option(file_cfg, "header")
    header = True if header is None else bool(header)
    if columns and fmt != "tsv":
        raise ConfigError(
            f"file.columns names the columns of a TSV file; {path} is read as {fmt} (file.format)"
        )
    if not header and not columns:
        raise ConfigError(
            "file.header=false needs the columns named in order: file.columns=[label,sentence] (for example)"
        )
    records = list(READERS[fmt](path, list(columns) if columns else None))
    if columns and header and records:
        # The header line, read as data because the columns were named; on a file without one it
        # is an example: say which line goes.
        first = records[0]
        shown = "\t".join(map(str, (first.fields or {}).values()))[:80]
        log.warning(
            "%s: the first line (line %s: %s) is skipped as its header (file.columns with file.header=true); "
            "add file.header=false if the file has no header",
            path, first.position, shown,
        )  # fmt: skip
        records = records[1:]
    return records


def _candidates(task_cfg: DictConfig, file_cfg: DictConfig) -> list[dict]:
    """Field mappings to try, most specific first; `file.fields` is merged over each of them."""
    given = _file_option(file_cfg, "fields") or {}
    local, hub = task_cfg.get("local") or {}, task_cfg.get("hub") or {}
    found = []
    for entry in (local.get("files") or {}).values():
        if isinstance(entry, DictConfig) and entry.get("fields"):
            found.append(plain(entry.fields))
    for source in (local, hub):
        if source.get("fields"):
            found.append(plain(source.fields))
    unique = []
    for fields in found or [{}]:
        merged = {**fields, **given}
        if merged not in unique:
            unique.append(merged)
    return unique


def _normalizer(task_cfg: DictConfig, file_cfg: DictConfig, fields: dict) -> Normalizer:
    local, hub = task_cfg.get("local") or {}, task_cfg.get("hub") or {}
    aliases = {
        **plain(hub.get("label_aliases") or {}),
        **plain(local.get("label_aliases") or {}),
        **(_file_option(file_cfg, "label_aliases") or {}),
    }
    source = {"fields": fields, "label_aliases": aliases}
    if local.get("choice_keys"):
        source["choice_keys"] = plain(local.choice_keys)
    return Normalizer(task_cfg, OmegaConf.create(source))


def _choose_fields(records, task_cfg, file_cfg, labelled) -> tuple[dict, Normalizer]:
    probe = [r for r in records if not r.problem][:PROBE_ROWS]
    best, best_hits = None, -1
    for fields in _candidates(task_cfg, file_cfg):
        if "text_a" not in fields or (labelled and "label" not in fields):
            continue
        normalizer = _normalizer(task_cfg, file_cfg, fields)
        hits = sum(_fits(normalizer, r.fields, fields, labelled) for r in probe)
        if hits > best_hits:
            best, best_hits = (fields, normalizer), hits
    if best is None or (probe and best_hits == 0):
        seen = ", ".join(sorted(map(str, probe[0].fields))) if probe else "none"
        unknown = _unknown_labels(probe, task_cfg, file_cfg) if labelled else []
        if unknown:
            raise ConfigError(_unknown_labels_message(task_cfg, unknown))
        if labelled and _readable_unlabelled(records, task_cfg, file_cfg):
            raise ConfigError(
                f"the file ({seen}) has no labels for task {task_cfg.name}: afuse evaluate scores "
                "a labelled file; afuse predict labels this one (or name its label field with "
                "file.fields='{label: <field>, ...}')"
            )
        wanted = ", ".join(f"{k}: {v}" for k, v in (_candidates(task_cfg, file_cfg)[0]).items())
        raise ConfigError(
            f"the file's fields ({seen}) do not match task {task_cfg.name}'s ({wanted}); describe them, e.g. "
            "file.fields='{text_a: sentence1, text_b: sentence2, label: label}' (or file.columns=[...] "
            "file.header=false for a TSV without a header)"
        )
    return best


def _unknown_labels_message(task_cfg: DictConfig, unknown: list[str]) -> str:
    shown = ", ".join(map(repr, unknown))
    if task_cfg.kind == "multiple_choice":  # the label names a choice; there are no aliases to map
        keys = (task_cfg.get("local") or {}).get("choice_keys") or range(task_cfg.num_choices)
        return (
            f"the file's answers ({shown}) are not task {task_cfg.name}'s choice keys "
            f"({', '.join(map(str, keys))}): a row's label names one of its choices "
            "(file.fields='{label: <field>, ...}' names the field that holds it)"
        )
    valid = ", ".join(sorted(map(str, task_cfg.labels)))
    return (
        f"the file's labels ({shown}) are not task {task_cfg.name}'s ({valid}); "
        f"map them with file.label_aliases, e.g. file.label_aliases='{{{unknown[0]}: {task_cfg.labels[0]}}}'"
    )


def _unknown_labels(probe, task_cfg, file_cfg) -> list[str]:
    """The label values of rows that fit the task but for a label it does not have."""
    unknown = []
    for fields in _candidates(task_cfg, file_cfg):
        if "text_a" not in fields or "label" not in fields:
            continue
        normalizer = _normalizer(task_cfg, file_cfg, fields)
        for record in probe:
            try:
                normalizer.row(record.fields, fields, labelled=True)
            except RowProblem as problem:
                if str(problem).startswith("unknown label") and _fits(
                    normalizer, record.fields, fields, False
                ):
                    unknown.append(str(lookup(record.fields, fields["label"])))
        if unknown:
            return sorted(set(unknown))[:5]
    return []


def _readable_unlabelled(records, task_cfg, file_cfg) -> bool:
    try:
        _choose_fields(records, task_cfg, file_cfg, labelled=False)
    except ConfigError:
        return False
    return True


def _fits(normalizer: Normalizer, record: dict, fields: dict, labelled: bool) -> bool:
    try:
        normalizer.row(record, fields, labelled=labelled)
    except RowProblem:
        return False
    return True


def _own_id(record: dict, fields: dict, id_field: str | None, position: str):
    for candidate in (id_field, fields.get("id"), *ID_FALLBACKS):
        if not candidate:
            continue
        try:
            value = lookup(record, candidate) if "{" not in candidate else None
        except RowProblem:
            continue
        if value is not None and not isinstance(value, list | dict):
            return value
    return position


def existing_file(path: str | Path) -> Path:
    """`file=`'s path, refused when it is not a file: evaluate and predict check it before they
    load the run's model (seconds), and read it after."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise MissingInputError(f"file={path} is a directory; pass one of its files")
    if not path.is_file():
        raise MissingInputError(f"file={path}: no such file")
    return path


def read_file(
    path: str | Path,
    task_cfg: DictConfig,
    file_cfg: DictConfig | None,
    labelled: bool,
    id_field: str | None = None,
) -> FileRows:
    """Schema rows of `path` for `task_cfg`; `id_field` names the field to keep as each row's id."""
    path = existing_file(path)
    fmt = file_format(path, file_cfg, task_cfg)
    records = _records(path, fmt, file_cfg)
    fields, normalizer = _choose_fields(records, task_cfg, file_cfg, labelled)
    result = FileRows(path, sha256_file(path), fmt, fields, [], [], len(records))
    for record in records:
        if record.problem:
            result.malformed.add(path.name, record.position, record.problem)
            continue
        try:
            row = normalizer.row(record.fields, fields, labelled=labelled)
        except RowProblem as problem:
            result.malformed.add(path.name, record.position, str(problem))
            continue
        result.ids.append(_own_id(record.fields, fields, id_field, record.position))
        row["id"] = str(result.ids[-1])
        result.rows.append(row)
    if result.malformed.total:  # evaluate lists them in its metrics.json; predict keeps no record
        result.malformed.report(
            task_cfg.name, "the evaluation's metrics.json, rows.malformed" if labelled else None
        )
    if not result.rows:
        raise ConfigError(
            f"file={path}: no usable rows ({result.malformed.total} malformed of {len(records)})"
        )
    return result
