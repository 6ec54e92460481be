"""A preset file (conf/experiment/<name>.yaml, or a researcher's own <dir>/experiment/<name>.yaml
on hydra.searchpath) as a file, checked before Hydra reads it: the mistakes of writing one from
scratch that Hydra reports as a traceback (invalid YAML) or in terms of its own machinery (a missing
`# @package _global_` header, a `- model: tiny` defaults entry) get one line naming the file.

What the preset says (its `experiment` node) is checked where it is read: afuse.experiment and
afuse.report.layout.
"""

import re
from pathlib import Path

import yaml

from afuse.errors import ConfigError

HEADER = "# @package _global_"


def check_preset_file(path: Path) -> None:
    """ConfigError for the first problem of the preset file at `path`."""
    text = path.read_text()
    if not _has_global_header(text):
        raise ConfigError(
            f"{path}: its first line must be `{HEADER}` (so that what it sets applies to every job, "
            "as in conf/experiment/*.yaml); add it"
        )
    try:
        preset = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    for entry in (preset or {}).get("defaults") or [] if isinstance(preset, dict) else []:
        _check_defaults_entry(entry, path)


def _has_global_header(text: str) -> bool:
    """Hydra reads `# @package` from the comment lines the file starts with."""
    for line in text.splitlines():
        if not line.startswith("#"):
            return False
        if re.fullmatch(r"#\s*@package\s+_global_\s*", line):
            return True
    return False


def _check_defaults_entry(entry, path: Path) -> None:
    """`- model: tiny` in a preset means experiment/model/tiny.yaml to Hydra (not found); a preset
    replaces the command's choice: `- override /model: tiny`."""
    if not isinstance(entry, dict) or len(entry) != 1:
        return
    key, value = next(iter(entry.items()))
    if not str(key).startswith(("override ", "/", "optional ")):
        raise ConfigError(
            f"{path}: defaults: `- {key}: {value}` must be `- override /{key}: {value}` "
            "(a preset replaces the command's choice)"
        )
