"""Is a finished run's result readable? A cheap check, for skipping a run and for `afuse status`.

    result_damage(run_dir)   # None, or "metrics.json: not JSON (Expecting ',' ...)"

`metrics.json` marks a run finished, but a truncated copy, a disk that filled up under someone
else's tool, or a hand edit can leave a finished run whose files no longer read. Checked here:
metrics.json and config.yaml parse and hold what the report reads, and every safetensors file's
header covers the file exactly (safetensors' own check on opening; no tensor is loaded).
"""

import json
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from afuse.errors import AfuseError
from afuse.runs import CONFIG, METRICS
from afuse.train.checkpoint_dirs import CHECKPOINT_DIRS
from afuse.train.forced import HELD, HOLDING

if TYPE_CHECKING:
    from omegaconf import DictConfig

_NOT_RESULT = (*CHECKPOINT_DIRS, HELD, HOLDING)


# How a damaged run's reason for being left out of the report begins (afuse.commands.status).
DAMAGED = "damaged, not read"


class DamagedResultError(AfuseError):
    """A finished run whose result files do not read: it is neither skipped nor silently redone."""

    exit_code = 5


def result_damage(run_dir: str | Path, weights: bool = True) -> str | None:
    """What is wrong with the finished run in `run_dir` (one line), or None when it reads.
    weights=False: only its records (a caller that loads the weights reports those itself)."""
    run_dir = Path(run_dir)
    records = _metrics_damage(run_dir / METRICS) or config_damage(run_dir / CONFIG)
    return records or (_weights_damage(run_dir) if weights else None)


def read_finished_run(run_dir: str | Path) -> tuple["DictConfig", dict]:
    """(config, metrics) of a finished run, for the commands that rebuild it (evaluate, predict,
    export); DamagedResultError, with what to run, when they do not read. Its weights are
    checked when they are loaded."""
    from omegaconf import OmegaConf

    run_dir = Path(run_dir)
    damage = result_damage(run_dir, weights=False)
    cfg = None if damage else OmegaConf.load(run_dir / CONFIG)
    if cfg is not None:
        # A file cut at a line end still parses: what every rebuild reads must be there.
        missing = [] if "model" in cfg else ["model"]
        missing += [] if "task" in cfg or "tasks" in cfg else ["task"]
        damage = f"{CONFIG} lacks {', '.join(missing)} (cut short?)" if missing else None
    if damage:
        raise DamagedResultError(
            f"{run_dir} is a finished run whose result is damaged ({damage}); "
            "rerun the command that made it with force=true"
        )
    return cfg, json.loads((run_dir / METRICS).read_text())


def _metrics_damage(path: Path) -> str | None:
    try:
        metrics = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return f"{path.name}: not readable JSON ({exc})"
    if not isinstance(metrics, dict):
        return f"{path.name}: not a JSON object"
    # The one value every reader of a finished run needs (the report's cells, stage 2's sources);
    # an MT-A run's report cells are its tasks'.
    tasks = metrics.get("tasks")
    scopes = {
        "": metrics,
        **({f"tasks.{t}.": v for t, v in tasks.items()} if isinstance(tasks, dict) else {}),
    }
    for prefix, scope in scopes.items():
        damage = _accuracy_damage(
            scope.get("test") if isinstance(scope, dict) else None, f"{prefix}test.accuracy"
        )
        if damage:
            return f"{path.name}: {damage}"
    return None


def _accuracy_damage(test, key: str) -> str | None:
    accuracy = test.get("accuracy") if isinstance(test, dict) else None
    if not isinstance(accuracy, int | float) or isinstance(accuracy, bool):
        return f"no test accuracy ({key})"
    if not 0.0 <= accuracy <= 1.0:  # docs/contracts.md: fractions
        return f"{key} {accuracy} is not a fraction in [0, 1]"
    return None


def config_damage(path: Path) -> str | None:
    """What is wrong with a run's config.yaml (one line), or None when it reads as OmegaConf reads it."""
    if not path.exists():
        return None  # runs of older versions may lack it; nothing reads it but the settings check
    try:
        config = load_config_yaml(path)
    except Exception as exc:  # yaml's errors have no common base worth naming (OSError too)
        return f"{path.name}: not readable YAML ({str(exc).splitlines()[0]})"
    if not isinstance(config, dict):
        return f"{path.name}: not a YAML mapping"
    return None


def read_run_config(path: Path) -> dict | None:
    """A run's config.yaml as a plain dict; None when it is absent, does not read or is no mapping
    (config_damage says which)."""
    try:
        config = load_config_yaml(path)
    except Exception:  # yaml's errors have no common base worth naming (OSError too)
        return None
    return config if isinstance(config, dict) else None


def load_config_yaml(path: Path):
    """A run's config.yaml as plain Python objects, read as OmegaConf reads it but fast (below);
    raises on a file that does not read."""
    return yaml.load(path.read_bytes(), Loader=_UniqueKeyLoader)


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML as OmegaConf reads it (a repeated key is an error), parsed by libyaml where there is
    one: `afuse status` checks every run's config.yaml, and OmegaConf.load is 15x slower."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            if key.value in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"found duplicate key {key.value}", key.start_mark
                )
            seen.add(key.value)
        return super().construct_mapping(node, deep=deep)


def _weights_damage(run_dir: Path) -> str | None:
    from safetensors import SafetensorError, safe_open

    for path in sorted(run_dir.rglob("*.safetensors")):
        if set(path.relative_to(run_dir).parts) & set(_NOT_RESULT):
            continue
        try:
            with safe_open(str(path), framework="numpy") as handle:
                handle.keys()
        except (SafetensorError, OSError) as exc:
            return f"{path.relative_to(run_dir)}: {exc}"
    return None
