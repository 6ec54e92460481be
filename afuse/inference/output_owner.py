"""Whose outputs an eval/<name>/ or predict/<name>/ folder holds, so no command replaces another's.

Default folder names come from a file's stem (or the split), so two files of the same name (RTE's
GLUE `test.tsv` and SuperGLUE `test.jsonl`, or a labelled `test.jsonl` and the test split) would
land in the same folder. Each folder records what it holds in `source.json` (command, run, task,
split or file); a command whose outputs are of something else refuses the folder, naming a
`name=` that keeps both, instead of replacing predictions a researcher may still need. The same
command over the same source refreshes its folder (the file may have changed since).

    check_owner(folder, owner)   # before any work: ConfigError if the folder is another's
    claim(folder, owner)         # before writing outputs into it
"""

import json
import re
from pathlib import Path

from afuse.atomic import atomic_write_json
from afuse.errors import ConfigError

RECORD = "source.json"
COMMANDS = {"eval": "evaluate", "predict": "predict"}


def owner_of(kind: str, where: Path, task: str, source: dict) -> dict:
    """What outputs of `kind` (eval | predict) over `source` ({split} or {file}) are of."""
    return _owner(COMMANDS[kind], where, task, source)


def check_owner(folder: Path, owner: dict) -> None:
    """Refuse `folder` when it holds outputs of another command, run, task or source."""
    if _free(folder, owner):
        return
    previous = _recorded_owner(folder)
    holds = (
        "outputs afuse cannot attribute (no source.json)" if previous == {} else _describe(previous, owner)
    )
    raise ConfigError(
        f"{folder} already holds {holds}; writing these of {_describe_source(owner)} there would replace "
        f"them: add name={_free_name(folder, owner)} to keep both (or out=<dir>), or delete {folder} first"
    )


def _same_owner(previous: dict, owner: dict, folder: Path) -> bool:
    """Outputs of the same command over the same source. A folder in the run's own eval/ or
    predict/ is that run's wherever the tree was copied or moved since: its record names the run's
    old path then, and the next command's record names the new one."""
    if folder.resolve().parent.parent == Path(owner["run"]):
        return {**previous, "run": owner["run"]} == owner
    return previous == owner


def claim(folder: Path, owner: dict) -> None:
    atomic_write_json(folder / RECORD, owner)  # makes the folder; a failure is one WriteError line


def _recorded_owner(folder: Path) -> dict | None:
    """The folder's owner; None if it holds nothing; {} if it holds files of unknown origin."""
    if not folder.is_dir() or not any(p.name != RECORD for p in folder.iterdir()):
        return None
    for record in (RECORD, "metrics.json"):  # an evaluate of an afuse before source.json: its metrics
        try:
            data = json.loads((folder / record).read_text())
            return _owner(data["command"], data["run"], data["task"], data["source"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return {}


def _owner(command: str, where: str | Path, task: str, source: dict) -> dict:
    what = {"split": source["split"]} if "split" in source else {"file": str(Path(source["file"]).resolve())}
    return {"command": command, "run": str(Path(where).resolve()), "task": task, "source": what}


def _free(folder: Path, owner: dict) -> bool:
    """Whether `owner`'s outputs may go into `folder`: it holds nothing, or outputs of the same."""
    previous = _recorded_owner(folder)
    return previous is None or _same_owner(previous, owner, folder)


def _describe_source(owner: dict) -> str:
    source = owner["source"]
    return f"the {source['split']} split" if "split" in source else source["file"]


def _describe(previous: dict, owner: dict) -> str:
    """The earlier outputs, naming each way they differ from the new ones."""
    noun = "predictions" if previous["command"] == "predict" else "evaluation"
    text = f"the {noun} of {_describe_source(previous)}"
    if previous["command"] != owner["command"]:
        text += f" (afuse {previous['command']})"
    if previous["run"] != owner["run"]:
        text += f" by {previous['run']}"
    if previous["task"] != owner["task"]:
        text += f" for task {previous['task']}"
    return text


def _free_name(folder: Path, owner: dict) -> str:
    """A folder name beside `folder` that is not taken: <parent>_<stem> of a file, else <task>_<name>."""
    source = owner["source"]
    candidates = []
    if "file" in source:
        path = Path(source["file"])
        candidates.append(f"{path.parent.name}_{path.stem}")
    candidates.append(f"{owner['task']}_{folder.name}")
    candidates += [f"{folder.name}-{n}" for n in range(2, 100)]
    for candidate in candidates:
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", candidate).strip("._") or "outputs"
        if name != folder.name and _free(folder.parent / name, owner):
            return name
    return "<another name>"
