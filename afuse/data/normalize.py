"""From a raw record (a file's own field names) to one row of afuse's normalised schema.

The task config says where each schema column comes from (`fields:` of its hub/local source):

    text_a: premise                      a field name; dotted paths reach into nested JSON
    text_a: "{context} {question}"       a template: {path} is replaced by that field's text
    choices: [answerA, answerB]          one field or template per choice, or one path to a list
    label: label                         mapped to an index by the task's `labels` (+ `label_aliases`)
                                         or, for multiple choice, by `choice_keys`
    id: idx                              optional; the row's position in its file otherwise

Problems (a missing field, an empty text, an unknown label) are returned as a reason, never
raised: the caller counts the row as malformed and goes on.
"""

import re
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from afuse.errors import ConfigError

TEMPLATE_FIELD = re.compile(r"\{([^{}]+)\}")


class RowProblem(Exception):
    """One record cannot become a row; the message says why."""


def lookup(record: Mapping[str, Any], path: str) -> Any:
    """`question.choices.text` in a record; a list of dicts on the way maps over its items."""
    value: Any = record
    keys = path.split(".")
    for depth, key in enumerate(keys):
        if isinstance(value, Mapping) and key in value:
            value = value[key]
        elif isinstance(value, list) and all(isinstance(item, Mapping) and key in item for item in value):
            value = [item[key] for item in value]
        else:
            raise RowProblem(f"missing field {path!r}{_fields_there(value, keys[:depth])}")
    return value


def _fields_there(value: Any, parents: list[str]) -> str:
    """The names a lookup could have used where it failed: what a misspelt field should be."""
    if not isinstance(value, Mapping) or not value:
        return ""
    where = ".".join(parents) or "this row"
    return f" ({where} has: {', '.join(map(str, value))})"


def render(record: Mapping[str, Any], spec: str) -> str:
    """A field's text, or a template's text with each {path} filled in."""
    if "{" in spec:
        return TEMPLATE_FIELD.sub(lambda match: _as_text(lookup(record, match[1]), match[1]), spec).strip()
    return _as_text(lookup(record, spec), spec).strip()


def _as_text(value: Any, path: str) -> str:
    if value is None or isinstance(value, (list, dict)):
        raise RowProblem(f"field {path!r} is {type(value).__name__}, expected text")
    return str(value)


def label_key(raw: Any) -> str:
    """A raw label as a lookup key: JSON true/false, 1, 1.0 and " 1 " all compare as text."""
    if isinstance(raw, bool):
        return str(raw).lower()
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw).strip().lower()


class LabelIndex:
    """Raw label spelling -> label id, from the task's labels (or choice keys) and a source's aliases."""

    def __init__(self, task_cfg: DictConfig, source_cfg: DictConfig):
        if task_cfg.kind == "multiple_choice":
            keys = source_cfg.get("choice_keys") or [str(i) for i in range(task_cfg.num_choices)]
            self.ids = {label_key(key): i for i, key in enumerate(keys)}
        else:
            self.ids = {label_key(name): i for i, name in enumerate(task_cfg.labels)}
            for alias, name in (source_cfg.get("label_aliases") or {}).items():
                if label_key(name) not in self.ids:
                    raise ConfigError(
                        f"task {task_cfg.name}: label_aliases maps {alias!r} to {name!r}, "
                        f"which is not one of its labels {list(task_cfg.labels)}"
                    )
                self.ids[label_key(alias)] = self.ids[label_key(name)]

    def __call__(self, raw: Any) -> int:
        label = self.ids.get(label_key(raw))
        if label is None:
            raise RowProblem(f"unknown label {raw!r}; expected one of {sorted(self.ids)}")
        return label


class Normalizer:
    """Turns raw records of one task source (hub or local) into schema rows.

    Works on plain dicts: it runs once per row, and OmegaConf access is ~50x slower.
    """

    def __init__(self, task_cfg: DictConfig, source_cfg: DictConfig):
        self.labels = LabelIndex(task_cfg, source_cfg)
        self.multiple_choice = task_cfg.kind == "multiple_choice"
        self.num_choices = task_cfg.get("num_choices")
        self.blank = task_cfg.get("blank")
        self.default_fields = plain(source_cfg.fields)

    def row(
        self, record: Mapping[str, Any], fields: Mapping[str, Any] | None = None, labelled: bool = True
    ) -> dict[str, Any]:
        """The schema row for `record`; RowProblem says why there is none. `id` may be None.
        labelled=False (text to predict, `afuse predict`): no label is read and `label` is -1."""
        fields = fields or self.default_fields
        text_a = self._text(record, fields["text_a"], "text_a")
        text_b = self._text(record, fields["text_b"], "text_b") if fields.get("text_b") else None
        choices = self._choices(record, fields.get("choices")) if self.multiple_choice else None
        if self.blank and self.blank not in text_a:
            raise RowProblem(f"text_a has no blank {self.blank!r} to fill with the choices")
        row_id = self._row_id(record, fields.get("id"))
        return {
            "id": row_id,
            "text_a": text_a,
            "text_b": text_b,
            "choices": choices,
            "label": self.labels(lookup(record, fields["label"])) if labelled else -1,
        }

    @staticmethod
    def _row_id(record: Mapping[str, Any], spec: str | None) -> str | None:
        """The record's own id, or None (the caller then uses its position): an id is a label for
        people, so a source without one (some Hub copies) is not a reason to drop its rows."""
        try:
            return render(record, spec) or None if spec else None
        except RowProblem:
            return None

    @staticmethod
    def _text(record: Mapping[str, Any], spec: str, column: str) -> str:
        text = render(record, spec)
        if not text:
            raise RowProblem(f"empty {column} (from {spec!r})")
        return text

    def _choices(self, record: Mapping[str, Any], spec: Any) -> list[str]:
        if isinstance(spec, list):
            choices = [render(record, item) for item in spec]
        else:
            value = lookup(record, spec)
            if not isinstance(value, list):
                raise RowProblem(f"field {spec!r} is {type(value).__name__}, expected a list of choices")
            choices = [_as_text(item, spec).strip() for item in value]
        if len(choices) != self.num_choices:
            raise RowProblem(f"{len(choices)} choices, expected {self.num_choices} (the task's num_choices)")
        if not all(choices):
            raise RowProblem("an empty choice")
        return choices


def plain(config: Any) -> Any:
    """A config node as plain Python (for manifests and hashing)."""
    return (
        OmegaConf.to_container(config, resolve=True)
        if isinstance(config, (DictConfig, ListConfig))
        else config
    )
