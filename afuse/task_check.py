"""What a task config (conf/task/<name>.yaml, or a user's own <dir>/task/<name>.yaml on
hydra.searchpath) must hold, checked when it is read: a researcher's new task with a key missing or
misspelt gets one line naming the key and the file before any data is prepared, instead of an
OmegaConf traceback mid-run or, worse, a setting that silently does something else (a pair task
without `text_b` trains on its first sentence alone).

Only the shape of the config is checked here; whether the files hold those fields and labels is
seen row by row when the data is prepared (afuse.data.checks).
"""

from pathlib import Path

from omegaconf import DictConfig

from afuse.errors import ConfigError

KINDS = ("single", "pair", "multiple_choice")
SOURCES = ("local", "hub")


def check_task_config(task: DictConfig, path: Path) -> None:
    """ConfigError for the first problem of the task config read from `path`."""
    where = f"task config {path}"
    name = task.get("name")
    if name != path.stem:
        raise ConfigError(
            f"{where}: name: {name!r} must be the file's name ({path.stem!r}), the name task=, "
            f"target= and fusion.sources use; set name: {path.stem} or rename the file"
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
            raise ConfigError(f"{where}: {source}.{key} is missing; see docs/contracts.md (Task config)")
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
