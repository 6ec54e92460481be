"""What a task config (conf/task/<name>.yaml, or a user's own <dir>/task/<name>.yaml on
hydra.searchpath) must hold, checked when it is read: a researcher's new task with a key missing or
misspelt gets one line naming the key and the file before any data is prepared, instead of an
OmegaConf traceback mid-run or, worse, a setting that silently does something else (a pair task
without `text_b` trains on its first sentence alone).

Only the shape of the config is checked here; whether the files hold those fields and labels is
seen row by row when the data is prepared (afuse.data.checks).
"""

import difflib
from pathlib import Path

from omegaconf import DictConfig

from afuse.errors import ConfigError

KINDS = ("single", "pair", "multiple_choice")
# The rows of the report's accuracy.csv after its tasks (afuse.report.tables.accuracy_numbers): a
# task of one of these names would have its row overwritten by the means.
SUMMARY_ROWS = ("mean", "mean_common_tasks")
SOURCES = ("local", "hub")

# Every key afuse reads, per level of a task config (README, "Your own task"; docs/contracts.md).
# Anything else is a misspelling whose setting would be silently ignored (`display_nme`,
# `local.label_alias`), so it is refused with the valid keys.
KEYS = {
    "": ("name", "display_name", "kind", "num_choices", "labels", "max_length", "paper_train_size", "blank")
    + SOURCES,
    "local": ("folder", "origin", "format", "fields", "files", "columns", "label_aliases", "choice_keys")
    + ("carve", "id_columns", "notes"),
    "hub": ("path", "name", "revision", "splits", "fields", "label_aliases", "label_names", "choice_keys")
    + ("expected", "notes"),
    "file": ("path", "format", "fields", "columns", "labels_file", "where", "ids_in", "ids_not_in"),
    "carve": ("from", "fraction", "max_examples"),
    "fields": ("id", "text_a", "text_b", "choices", "label"),
}
# What a required key of a source holds, for the line that says it is missing.
REQUIRED_HINTS = {
    "folder": "the folder of the task's files, under data.raw_dir or absolute; e.g. folder: /my/data/MyTask",
    "origin": "one line saying where the data comes from, recorded in its manifest.json and shown in "
    "messages; e.g. origin: my own annotation",
    "files": "each split's file in the folder; e.g. files: {train: train.jsonl, test: test.jsonl}",
    "path": "the Hugging Face dataset id; e.g. path: my-org/my-dataset",
    "splits": "our split -> the dataset's; e.g. splits: {train: train, test: validation}",
}


def check_task_config(task: DictConfig, path: Path) -> None:
    """ConfigError for the first problem of the task config read from `path`."""
    where = f"task config {path}"
    _check_unknown_keys(task, where)
    name = task.get("name")
    if name != path.stem:
        raise ConfigError(
            f"{where}: name: {name!r} must be the file's name ({path.stem!r}), the name task=, "
            f"target= and fusion.sources use; set name: {path.stem} or rename the file"
        )
    if name in SUMMARY_ROWS:
        raise ConfigError(
            f"{where}: the name {name!r} is a row of the report's accuracy.csv (the means over tasks), "
            "which would overwrite this task's row; rename the file and its name:"
        )
    kind = task.get("kind")
    if kind not in KINDS:
        given = "kind is missing" if kind is None else f"kind: {kind!r} is not a task kind"
        raise ConfigError(f"{where}: {given}; valid: {', '.join(KINDS)}")
    _check_outputs(task, where)
    length = task.get("max_length")
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ConfigError(
            f"{where}: max_length must be a number of word pieces >= 1 (got {length!r}); e.g. max_length: 128"
        )
    sources = [s for s in SOURCES if task.get(s)]
    if not sources:
        raise ConfigError(
            f"{where}: neither local: (files under data.raw_dir) nor hub: (a Hugging Face dataset) "
            "says where its data is; give one of them"
        )
    for source in sources:
        _check_source(task, source, where)


def _check_outputs(task: DictConfig, where: str) -> None:
    """Classification needs its label names (label id i = labels[i]); multiple choice its count."""
    labels, choices = task.get("labels"), task.get("num_choices")
    if task.kind == "multiple_choice":
        if isinstance(choices, bool) or not isinstance(choices, int) or choices < 2:
            raise ConfigError(
                f"{where}: kind: multiple_choice needs num_choices, the number of answers per question "
                f"(got {choices!r}); e.g. num_choices: 4"
            )
        return
    if labels is None or isinstance(labels, str) or len(labels) < 2:
        raise ConfigError(
            f"{where}: kind: {task.kind} needs labels, the list of at least two class names "
            f"(label id i is labels[i]; got {labels!r}); e.g. labels: [negative, positive]"
        )
    if any(isinstance(label, bool) for label in labels):
        # YAML reads unquoted yes/no/true/false/on/off as booleans: the files' "yes" would then match nothing.
        raise ConfigError(
            f"{where}: labels {list(labels)} hold YAML booleans (an unquoted yes, no, true, false, on or off); "
            'quote the names as they are spelt in your files, e.g. labels: ["no", "yes"]'
        )
    spelt = [str(label).strip().lower() for label in labels]
    if len(set(spelt)) != len(spelt):
        raise ConfigError(f"{where}: labels {list(labels)} name a class twice")


def _check_source(task: DictConfig, source: str, where: str) -> None:
    """The keys afuse's readers need in `local:` / `hub:`; `fields` must map every text the kind uses."""
    spec = task[source]
    required = ("folder", "origin", "files") if source == "local" else ("path", "splits")
    for key in required:
        if spec.get(key) in (None, "", {}):
            raise ConfigError(f"{where}: {source}.{key} is missing: {REQUIRED_HINTS[key]}")
    if "train" not in _split_names(spec, source) and "train" not in (spec.get("carve") or {}):
        raise ConfigError(f"{where}: {source} gives no train split; add train: to {_splits_key(source)}")
    if source == "local":
        _check_formats(spec, where)
    keys = spec.get("choice_keys")
    if task.kind == "multiple_choice" and keys is not None and len(keys) != task.num_choices:
        # label i is the i-th key: a key past num_choices would name an answer no row has.
        raise ConfigError(
            f"{where}: {source}.choice_keys {list(keys)} has {len(keys)} keys for num_choices: {task.num_choices}; "
            "give one key per answer, in the answers' order"
        )
    needed = {"single": ["text_a", "label"], "pair": ["text_a", "text_b", "label"]}
    needed["multiple_choice"] = ["text_a", "choices", "label"]
    for fields, key in _field_maps(spec, source):
        missing = [column for column in needed[task.kind] if not fields.get(column)]
        if missing:
            raise ConfigError(
                f"{where}: {key} has no {', '.join(missing)} (a {task.kind} task reads "
                f"{', '.join(needed[task.kind])}); e.g. {key}: "
                + "{"
                + ", ".join(f"{c}: <field in your files>" for c in needed[task.kind])
                + "}"
            )


def _check_unknown_keys(task: DictConfig, where: str) -> None:
    """ConfigError for the first key of `task`, at any level, that afuse does not read."""
    _refuse_unknown(task, "", "", where)
    for source in SOURCES:
        spec = task.get(source)
        if not isinstance(spec, DictConfig):
            continue
        _refuse_unknown(spec, source, source, where)
        _refuse_unknown(spec.get("fields"), "fields", f"{source}.fields", where)
        for split, entry in (spec.get("files") or {}).items():
            _refuse_unknown(entry, "file", f"{source}.files.{split}", where)
            if isinstance(entry, DictConfig):
                _refuse_unknown(entry.get("fields"), "fields", f"{source}.files.{split}.fields", where)
        for split, rule in (spec.get("carve") or {}).items():
            _refuse_unknown(rule, "carve", f"{source}.carve.{split}", where)


def _refuse_unknown(node, level: str, key: str, where: str) -> None:
    if not isinstance(node, DictConfig):
        return
    valid = KEYS[level]
    unknown = [str(k) for k in node if k not in valid]
    if unknown:
        close = difflib.get_close_matches(unknown[0], valid, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        at = f"{key}: " if key else ""
        raise ConfigError(
            f"{where}: {at}unknown key(s) {', '.join(unknown)} (afuse would ignore them); "
            f"valid: {', '.join(valid)}{hint}"
        )


def _check_formats(local: DictConfig, where: str) -> None:
    from afuse.data.readers import READERS

    for split, entry in local.files.items():
        own = entry.get("format") if isinstance(entry, DictConfig) else None
        chosen, key = (own, f"local.files.{split}.format") if own else (local.get("format"), "local.format")
        if chosen not in READERS:
            raise ConfigError(
                f"{where}: {key}: {chosen!r} is not a format afuse reads; valid: {', '.join(READERS)}"
            )


def _splits_key(source: str) -> str:
    return "local.files" if source == "local" else "hub.splits"


def _split_names(spec: DictConfig, source: str) -> set[str]:
    return set(spec.files if source == "local" else spec.splits)


def _field_maps(spec: DictConfig, source: str) -> list[tuple[DictConfig, str]]:
    """Each field mapping the source's files are read with: a file entry's own, else the source's."""
    if source == "hub":
        return [(spec.get("fields") or {}, "hub.fields")]
    maps = []
    for split, entry in spec.files.items():
        own = entry.get("fields") if isinstance(entry, DictConfig) else None
        maps.append(
            (own, f"local.files.{split}.fields") if own else (spec.get("fields") or {}, "local.fields")
        )
    return maps
