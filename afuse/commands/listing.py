"""`afuse list tasks|models|presets|runs`: what afuse knows about, and what was trained.

tasks     kind, labels (or number of choices), local folder, Hub id, sizes
models    source (Hub, package, config), family, Hub id or package
presets   description and job counts per stage
runs      every run under paths.runs: state (done / running / incomplete / failed / damaged / stale),
          test accuracy, directory
"""

import json

from omegaconf import DictConfig, OmegaConf

from afuse.catalog import check_runs_root, find_runs, runs_elsewhere
from afuse.commands.status import format_table, shown_dir
from afuse.config import task_config, task_names
from afuse.data.store import prepared_dir
from afuse.errors import ConfigError
from afuse.paths import conf_dir

WHAT = ("tasks", "models", "presets", "runs")


def main(cfg: DictConfig) -> None:
    if cfg.what not in WHAT:
        given = f"{cfg.what!r} is not something to list" if cfg.what else "say what to list"
        raise ConfigError(f"{given}; valid: afuse list {'|'.join(WHAT)}")
    print(
        {"tasks": tasks_text, "models": models_text, "presets": presets_text, "runs": runs_text}[cfg.what](
            cfg
        )
    )


def tasks_text(cfg: DictConfig) -> str:
    rows = []
    for name in task_names():
        task = task_config(name)
        labels = f"{task.num_choices} choices" if task.kind == "multiple_choice" else " / ".join(task.labels)
        hub = (
            task.hub.path + (f" ({task.hub.name})" if task.hub.get("name") else "")
            if task.get("hub")
            else "-"
        )
        local = f"{task.local.folder}/" if task.get("local") else "-"
        rows.append(
            [name, task.kind, labels, local, hub, str(task.get("paper_train_size", "")), _prepared(cfg, name)]
        )
    headers = [
        "task",
        "kind",
        "labels",
        "local folder",
        "Hub",
        "paper train",
        "prepared here (train/val/test)",
    ]
    return format_table(headers, rows)


def _prepared(cfg: DictConfig, task: str) -> str:
    manifest = prepared_dir(cfg.paths, task) / "manifest.json"
    try:
        splits = json.loads(manifest.read_text())["splits"]
    except (OSError, ValueError, KeyError):
        return "-"
    return "/".join(str(splits[s]["rows"]) for s in ("train", "validation", "test"))


def models_text(cfg: DictConfig) -> str:
    rows = []
    for path in sorted((conf_dir() / "model").glob("*.yaml")):
        model = OmegaConf.load(path)
        where = model.get("hub_id") or model.get("package") or "random init from its config (tests)"
        rows.append([path.stem, str(model.source), str(model.family), str(where)])
    return format_table(["model", "source", "family", "weights"], rows)


def presets_text(cfg: DictConfig) -> str:
    from hydra import compose
    from hydra.errors import HydraException

    from afuse.experiment import hydra_overrides, load_experiment, preset_file, preset_names
    from afuse.preset_check import check_preset_file

    searched = hydra_overrides(cfg)  # hydra.searchpath: the user's own presets too
    rows, broken = [], []
    for name in preset_names(searched):
        path = preset_file(name, searched)
        try:
            check_preset_file(path)
            experiment = load_experiment(
                compose(config_name="status", overrides=[f"experiment={name}", *searched])
            )
        except ConfigError as error:  # one researcher's half-written preset must not hide the others
            broken.append(f"not listed: {error}")
            continue
        except HydraException as error:  # a defaults entry naming no config, say
            broken.append(f"not listed: {path}: {str(error).splitlines()[0]}")
            continue
        stage1, stage2 = len(experiment.jobs(1)), len(experiment.jobs(2))
        rows.append(
            [name, experiment.model, str(stage1), str(stage2), str(stage1 + stage2), experiment.description]
        )
    table = format_table(["preset", "model", "stage-1 jobs", "stage-2 jobs", "total", "description"], rows)
    return "\n".join([table, *broken])


def runs_text(cfg: DictConfig) -> str:
    check_runs_root(cfg.paths.runs)
    runs = find_runs(cfg.paths.runs, cfg.paths.get("data"))
    if not runs:
        where = runs_elsewhere(cfg.paths.runs)
        if not where.startswith(";"):
            where += " (paths.runs=<dir> to look elsewhere)"
        return f"no runs under {cfg.paths.runs}{where}"
    rows = []
    for run in runs:
        accuracies = run.test_accuracies()
        shown = " ".join(f"{t} {a:.4f}" for t, a in accuracies.items()) if len(accuracies) > 1 else ""
        shown = shown or (f"{next(iter(accuracies.values())):.4f}" if accuracies else "")
        rows.append(
            [
                run.state,
                f"stage{run.stage}",
                run.model,
                run.variant,
                run.task,
                str(run.seed),
                shown,
                shown_dir(run.run_dir),
                run.note,
            ]
        )
    states = {}
    for run in runs:
        states[run.state] = states.get(run.state, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in states.items())
    table = format_table(
        ["state", "stage", "model", "variant", "task", "seed", "test acc", "run dir", "note"], rows
    )
    return f"{len(runs)} runs under {cfg.paths.runs}: {summary}\n\n{table}"
