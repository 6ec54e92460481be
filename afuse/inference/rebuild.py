"""Rebuild the exact model of a finished run from its config.yaml and weights: no training.

    trained = load_run(run_dir, task=None)          # any kind: st_a, houlsby, head, full, fusion, mt_a
    trained = load_adapterhub(directory, task_cfg, model_cfg, data_cfg)   # AdapterHub adapter + head

The base model is the run's (`model` in its config.yaml); the adapter, head, fusion and encoder
weights are the run's own files. A Fusion run's source adapters are found where `afuse fuse` found
them: its stage-1 runs beside it (the runs root is read off the run directory's path, so a moved
or committed tree of runs works) or the AdapterHub directories its config lists.
"""

from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from afuse.adapterhub_files import FUSION_CONFIG
from afuse.config import recorded_task_config
from afuse.errors import ConfigError, MissingInputError
from afuse.export_manifest import exported_base
from afuse.hub_adapters import hub_adapter_dir, is_hub_id
from afuse.modeling import AfuseModel, load_backbone
from afuse.modeling.adapterhub import HEAD_CONFIG, is_adapter_dir
from afuse.run_model import check_run_files, load_fusion_run, missing_weights, read_run
from afuse.runs import CONFIG, is_complete

KINDS = ("st_a", "houlsby", "head", "full", "fusion", "mt_a")


@dataclass
class TrainedModel:
    model: AfuseModel
    tokenizer: object
    tokenizer_id: str
    task: DictConfig  # the task whose labels the active head predicts
    kind: str
    cfg: DictConfig  # the run's config: model, data, seed (AdapterHub: the command's)
    where: Path  # the run directory, or the AdapterHub directory
    metrics: dict | None  # the run's metrics.json (None for AdapterHub adapters)

    @property
    def is_fusion(self) -> bool:
        return self.kind == "fusion"

    def label_names(self) -> list[str]:
        if self.task.kind == "multiple_choice":
            return [f"choice {i}" for i in range(int(self.task.num_choices))]
        return [str(label) for label in self.task.labels]

    def recorded_test(self) -> dict | None:
        """The run's own test result from metrics.json (an MT-A run: that of the evaluated task)."""
        if self.metrics is None:
            return None
        if self.kind == "mt_a":
            return self.metrics.get("tasks", {}).get(self.task.name, {}).get("test")
        return self.metrics.get("test")


def load_run(run_dir: str | Path, task: str | None = None) -> TrainedModel:
    run_dir, cfg, metrics = read_run(run_dir)
    kind = str(metrics.get("kind"))
    if kind not in KINDS:
        raise ConfigError(
            f"run={run_dir}: metrics.json has kind {kind!r}; afuse evaluates {', '.join(KINDS)}"
        )
    task_cfg = _task_of(run_dir, cfg, kind, task)
    check_run_files(run_dir, cfg, kind, task_cfg.name)  # before the minutes a base model may take to load
    encoder, tokenizer, tokenizer_id = load_backbone(cfg.model)
    model = AfuseModel(encoder, family=cfg.model.family)
    name = task_cfg.name
    if kind == "mt_a":
        _load_weights(model.load_encoder, run_dir / "encoder.safetensors", run_dir)
        model.load_adapter(name, _existing(run_dir / "adapters" / name, run_dir))
        _load_head(model, name, run_dir / "heads" / f"{name}.safetensors", task_cfg, run_dir)
        model.set_active(adapter=name, head=name)
    elif kind == "fusion":
        load_fusion_run(model, run_dir, cfg, metrics)
        _load_head(model, name, run_dir / "head.safetensors", task_cfg, run_dir)
        model.set_active(fusion=True, head=name)
    else:
        if kind == "full":
            _load_weights(model.load_encoder, run_dir / "encoder.safetensors", run_dir)
        if kind in ("st_a", "houlsby"):
            model.load_adapter(name, _existing(run_dir / "adapter_config.json", run_dir).parent)
        _load_head(model, name, run_dir / "head.safetensors", task_cfg, run_dir)
        model.set_active(adapter=name if kind in ("st_a", "houlsby") else None, head=name)
    model.eval()
    return TrainedModel(model, tokenizer, tokenizer_id, task_cfg, kind, cfg, run_dir, metrics)


def load_adapterhub(
    directory: str | Path, task_cfg: DictConfig, model_cfg: DictConfig, data_cfg
) -> TrainedModel:
    """An AdapterHub adapter directory with its head (head_config.json beside the adapter), or the
    Hugging Face Hub id of one (AdapterHub/bert-base-uncased-pf-rte)."""
    directory = hub_adapter_dir(str(directory)) if is_hub_id(str(directory)) else Path(directory).expanduser()
    if (directory / CONFIG).is_file() and is_complete(directory):  # its head has no head_config.json
        raise ConfigError(f"adapterhub={directory} is an afuse run directory: pass it as run={directory}")
    if (directory / FUSION_CONFIG).is_file():
        raise ConfigError(_fusion_dir(directory))
    if not is_adapter_dir(directory):
        raise MissingInputError(
            f"adapterhub={directory}: no adapter there (expected adapter_config.json and adapter.safetensors "
            "or pytorch_adapter.bin, as AdapterHub's save_adapter writes them)"
        )
    if not (directory / HEAD_CONFIG).is_file():
        raise MissingInputError(_no_head(directory))
    encoder, tokenizer, tokenizer_id = load_backbone(model_cfg)
    model = AfuseModel(encoder, family=model_cfg.family)
    model.load_adapter(task_cfg.name, directory)
    model.load_head(task_cfg.name, directory, task_cfg)
    model.set_active(adapter=task_cfg.name, head=task_cfg.name)
    model.eval()
    cfg = OmegaConf.create({"model": model_cfg, "data": data_cfg, "task": task_cfg, "seed": None})
    return TrainedModel(model, tokenizer, tokenizer_id, task_cfg, "adapterhub", cfg, directory, None)


def _no_head(directory: Path) -> str:
    exported = exported_base(directory)
    if exported is not None:  # a Fusion export's sources go without heads: the fusion has the target's
        return (
            f"adapterhub={directory}: no head there ({HEAD_CONFIG}): it is a source adapter of the Fusion run "
            f"{exported.run}, exported without a head; afuse evaluate run={exported.run} scores the Fusion "
            "run, and `afuse export run=<the run that trained this adapter>` writes it with its head"
        )
    return (
        f"adapterhub={directory}: no head there ({HEAD_CONFIG}); save the adapter with its head "
        "(AdapterHub: model.save_adapter(dir, name, with_head=True))"
    )


def _fusion_dir(directory: Path) -> str:
    exported = exported_base(directory)
    hint = (
        f"score the Fusion run it was exported from: afuse evaluate run={exported.run}"
        if exported
        else "a Fusion run is scored with run=<its run dir>"
    )
    return (
        f"adapterhub={directory} is a fusion directory, not an adapter: adapterhub= takes one adapter saved "
        f"with its head; {hint}"
    )


def _task_of(run_dir: Path, cfg: DictConfig, kind: str, task: str | None) -> DictConfig:
    if kind == "mt_a":
        tasks = [str(t) for t in cfg.tasks]
        if task is None and len(tasks) == 1:
            task = tasks[0]
        if task not in tasks:
            given = f"task={task} is not one of them" if task else "add task=<one of them>"
            raise ConfigError(
                f"run={run_dir} is an MT-A run over {len(tasks)} tasks ({', '.join(tasks)}): {given}"
            )
        return recorded_task_config(cfg, task)
    own = cfg.task
    if task is not None and task != own.name:
        raise ConfigError(
            f"run={run_dir} predicts {own.name}, not {task}: leave task= out (or set task={own.name})"
        )
    return own


def _existing(path: Path, run_dir: Path) -> Path:
    if not path.exists():
        raise MissingInputError(missing_weights(path, run_dir))
    return path


def _load_weights(load, path: Path, run_dir: Path) -> None:
    if not path.is_file():
        raise MissingInputError(missing_weights(path, run_dir))
    load(path)


def _load_head(model: AfuseModel, name: str, path: Path, task_cfg: DictConfig, run_dir: Path) -> None:
    _existing(path, run_dir)
    model.load_head(name, path, task_cfg)
