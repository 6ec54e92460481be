"""`afuse prepare-data experiment=<preset>`: everything the preset's jobs read from the Hub,
fetched and built where there is internet (a cluster's login node), so that the jobs then run
where there is none (its compute nodes) without trying a download.

  1. the preset's model and tokenizer, through load_backbone (the jobs' own loader): a Hub model
     (model.source=hub) is downloaded into the Hugging Face cache, which a job then reads at once
     when the Hub does not answer (afuse.hub_probe);
  2. each task its jobs read (afuse.preset_inputs), prepared with the settings those jobs use and
     tokenised for its max_length (load_tokenized, the jobs' own path), so that parallel jobs
     neither prepare nor tokenise again.

One line per task (prepared / already up to date / failed: why), then a summary. Every file is
written atomically and its index last (afuse.data.store), so a failure or Ctrl-C leaves each task
either as it was or complete.
"""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from afuse.data.prepare import MANIFEST
from afuse.data.store import CACHE_INDEX, cache_dir, prepared_dir
from afuse.errors import AfuseError
from afuse.preset_inputs import TaskInput

log = logging.getLogger("afuse")


@dataclass(frozen=True)
class Outcome:
    name: str  # a task, or "model <name>"
    state: str  # prepared | up to date | failed
    detail: str = ""
    exit_code: int = 0  # of the error, when failed


class NotReady(AfuseError):
    """Some task (or the model) could not be made ready; its line above says why."""


def make_ready(
    model_cfg: DictConfig,
    paths_cfg: DictConfig,
    inputs: dict[str, list[TaskInput] | Exception],
    say: Callable[[str], None],
) -> list[Outcome]:
    """The model first (the tokenised caches need its tokenizer), then each task; each outcome is
    said as soon as it is known."""
    outcomes = []
    model, backbone = _model(model_cfg)
    say(_line(model))
    outcomes.append(model)
    with_hub = [
        name for name, ways in inputs.items() if isinstance(ways, Exception) or not _no_hub_copy(ways)
    ]
    for name, ways in inputs.items():
        if isinstance(ways, Exception):
            outcome = Outcome(name, "failed", str(ways), 2)
        elif name not in with_hub:
            outcome = Outcome(name, "failed", _no_hub_copy_advice(ways[0], with_hub), 2)
        else:
            outcome = _task(name, ways, paths_cfg, backbone)
        say(_line(outcome))
        outcomes.append(outcome)
    return outcomes


def _no_hub_copy(ways: list[TaskInput]) -> bool:
    return ways[0].data.source == "hub" and not ways[0].task.get("hub")


def _no_hub_copy_advice(way: TaskInput, others: list[str]) -> str:
    """A task without a Hub copy in a preset whose jobs read the Hub: its jobs would fail anywhere,
    so what to change is the preset's source or its tasks, not this task's preparation."""
    origin = (way.task.get("local") or {}).get("origin", "its authors")
    leave_out = f" (experiment.tasks=[{','.join(others)}], and any group's own tasks)" if others else ""
    return (
        f"task {way.name} has no Hugging Face Hub copy (its files come from {origin}), and the preset's jobs read "
        f"data.source=hub: run the whole preset from local files (data.source=local data.raw_dir=<dir>, here "
        f"and on afuse run alike), or leave {way.name} out{leave_out}"
    )


def _model(model_cfg: DictConfig):
    from afuse.modeling import load_backbone  # torch and transformers: only here

    name = f"model {model_cfg.name}"
    cached = _hub_model_cached(model_cfg)
    try:
        backbone = load_backbone(model_cfg)
    except AfuseError as error:
        return Outcome(name, "failed", str(error), error.exit_code), None
    if str(model_cfg.source) != "hub":
        return Outcome(name, "up to date", f"model.source={model_cfg.source}: nothing to download"), backbone
    state = "up to date" if cached else "prepared"
    return Outcome(name, state, f"{model_cfg.hub_id} in the Hugging Face cache"), backbone


def _hub_model_cached(model_cfg: DictConfig) -> bool:
    if str(model_cfg.source) != "hub":
        return False
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(str(model_cfg.hub_id), "config.json"), str)


def _task(name: str, ways: list[TaskInput], paths_cfg: DictConfig, backbone) -> Outcome:
    from afuse.data import load_tokenized, prepare_task

    indexes = [prepared_dir(paths_cfg, name) / MANIFEST]
    if backbone is not None:
        indexes += [
            cache_dir(paths_cfg, name, backbone.tokenizer_id, int(way.task.max_length)) / CACHE_INDEX
            for way in ways
        ]
    before = [_identity(path) for path in indexes]
    try:
        with _quiet_data_logs():
            for way in ways:
                if backbone is None:  # no tokenizer: the data at least
                    prepare_task(way.task, way.data, paths_cfg)
                else:
                    load_tokenized(way.task, way.data, paths_cfg, backbone.tokenizer, backbone.tokenizer_id)
    except AfuseError as error:
        return Outcome(name, "failed", str(error), error.exit_code)
    what = _what(ways, backbone)
    if before == [_identity(path) for path in indexes] and None not in before:
        return Outcome(name, "up to date", what)
    return Outcome(name, "prepared", what)


def _what(ways: list[TaskInput], backbone) -> str:
    source = ways[0].data.source
    lengths = ", ".join(str(int(way.task.max_length)) for way in ways)
    tokens = f"tokenised for max_length {lengths}" if backbone is not None else "not tokenised (no model)"
    return f"data.source={source}, {tokens}"


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file is there: an index rewritten (atomically: a new inode) is another one."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns


@contextmanager
def _quiet_data_logs() -> Iterator[None]:
    """The per-step lines of preparing and tokenising (reused, subsampled, prepared ...) give way
    to one line per task; warnings (malformed rows, damaged files) still show."""
    logger = logging.getLogger("afuse.data")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _line(outcome: Outcome) -> str:
    return f"  {outcome.name}: {outcome.state}" + (
        f" ({outcome.detail})" if outcome.state != "failed" else f": {outcome.detail}"
    )


def summary(preset: str, outcomes: list[Outcome]) -> str:
    tasks = [o for o in outcomes if not o.name.startswith("model ")]
    counts = {state: sum(o.state == state for o in tasks) for state in ("prepared", "up to date", "failed")}
    said = ", ".join(f"{n} {state}" for state, n in counts.items() if n) or "no tasks"
    return f"{preset}: {len(tasks)} task(s): {said}"


def not_ready(preset: str, outcomes: list[Outcome], offline_command: str) -> NotReady | None:
    """The error that ends the command when something is not ready (its exit code: the first
    failure's, so that a Hub that does not answer is 4 as elsewhere), else None."""
    failed = [o for o in outcomes if o.state == "failed"]
    if not failed:
        return None
    error = NotReady(
        f"{preset}: not ready for runs without internet: {', '.join(o.name for o in failed)} failed (the lines "
        f"above say why); their jobs would have to fetch or prepare them where they run, which fails without internet. Fix it and run `{offline_command}` again "
        "(what is ready is kept)"
    )
    error.exit_code = failed[0].exit_code or 2
    return error
