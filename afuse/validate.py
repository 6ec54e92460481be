"""Config values checked before a command does any work, with messages that name the key.

    validate(cfg)    # ConfigError: "trainer.lr must be > 0 (got -1); e.g. trainer.lr=0.0001"

Hydra checks the config's shape (unknown keys and options); this checks the values a run depends
on, so a typo fails at once instead of after data preparation or hours of training. The CLI calls
it for every command; a command's config holds only some of the keys, and absent ones are not
checked. Values that need the model to check (the adapter bottleneck of a pretrained model) are
checked where the model is built, by the functions here.
"""

import importlib.util
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from afuse.cpu_isa import ISAS
from afuse.errors import ConfigError
from afuse.non_linearities import check_non_linearity

_ABSENT = object()


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _seed(value) -> bool:
    return _integer(value) and value >= 0


def _positive(value) -> bool:
    return _number(value) and value > 0


def _non_negative(value) -> bool:
    return _number(value) and value >= 0


def _count(value) -> bool:
    return _integer(value) and value >= 1


def _fraction(value) -> bool:
    return _number(value) and 0 <= value < 1


def _names(value) -> bool:
    return isinstance(value, ListConfig | list) and all(isinstance(v, str) for v in value)


def _some_names(value) -> bool:
    return _names(value) and len(value) > 0


def _boolean(value) -> bool:
    # `force=maybe` reaches the code as the string 'maybe', which Python would take as true.
    return isinstance(value, bool)


def _auto_or_boolean(value) -> bool:
    return value == "auto" or isinstance(value, bool)


def _one_of(*choices) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and value in choices


def _each(ok: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """One value, or a non-empty list of them (fusion.prune_below, fusion.keep_top_k)."""

    def check(value) -> bool:
        if isinstance(value, ListConfig | list):
            return len(value) > 0 and all(map(ok, value))
        return ok(value)

    return check


# Values the config names; the modules that use them import these (they import torch, this must not).
FUSION_KINDS = ("dynamic", "static")
SAMPLING_RULES = ("anneal", "prop", "sqrt", "uniform")
DATA_SOURCES = ("hub", "local")
HEATMAP_FORMATS = ("png", "pdf")  # afuse.report.heatmaps.SAVE_METADATA: how each is saved
EVALUATED_SPLITS = (
    "test",
    "validation",
    "train",
)  # evaluate's split= (afuse.data.schema.SPLITS), test first: the default


@dataclass(frozen=True)
class Rule:
    key: str
    ok: Callable[[Any], bool]
    must: str  # "must be > 0"
    example: str  # a valid value, for the message
    nullable: bool = False


RULES = (
    # A run directory is seed<k> (afuse.run_identity.SEED_DIR): seed=-1 made a seed-1 folder that
    # status, list and report never found; numpy refuses a negative split seed.
    Rule("seed", _seed, "must be an integer >= 0", "1"),
    # Switches: true or false only.
    Rule("force", _boolean, "must be true or false", "true"),
    Rule("save_encoder", _boolean, "must be true or false", "true"),  # finetune mode=full
    Rule("with_encoder", _boolean, "must be true, false or null", "true", nullable=True),  # export
    Rule("dry_run", _boolean, "must be true or false", "true"),  # run
    *(
        Rule(
            f"paths.{name}",
            lambda v: isinstance(v, str) and v.strip() != "",
            "must be a directory path",
            name,
        )
        for name in ("data", "runs", "results", "logs")
    ),
    Rule("status.all", _boolean, "must be true or false", "true"),
    Rule("report.heatmaps", _boolean, "must be true or false", "true"),
    Rule("report.same_tolerance", _non_negative, "must be >= 0", "0.3"),
    Rule(
        "report.heatmap_formats",
        lambda v: isinstance(v, ListConfig | list) and len(v) > 0 and all(f in HEATMAP_FORMATS for f in v),
        f"must be a non-empty list of {', '.join(HEATMAP_FORMATS)}",
        "[png,pdf]",
    ),
    Rule("report.annotate_max_cells", lambda v: _integer(v) and v >= 0, "must be an integer >= 0", "400"),
    Rule("adapter.reduction_factor", _positive, "must be > 0", "16"),
    Rule("trainer.lr", _positive, "must be > 0", "0.0001"),
    Rule("trainer.batch_size", _count, "must be an integer >= 1", "32"),
    Rule("trainer.eval_batch_size", _count, "must be an integer >= 1", "64"),
    Rule("batch_size", _count, "must be an integer >= 1", "64"),  # evaluate, predict
    Rule("trainer.max_epochs", _count, "must be an integer >= 1", "30"),
    Rule("trainer.patience", _count, "must be an integer >= 1", "3"),
    Rule("trainer.grad_accum_steps", _count, "must be an integer >= 1", "1"),
    Rule("trainer.warmup_ratio", _fraction, "must be in [0, 1)", "0.0"),
    Rule("trainer.weight_decay", _non_negative, "must be >= 0", "0.0"),
    Rule("trainer.max_grad_norm", _positive, "must be > 0", "1.0"),
    Rule("trainer.log_every_steps", _count, "must be an integer >= 1", "50"),
    Rule("trainer.amp", _auto_or_boolean, "must be auto, true or false", "auto"),
    Rule("trainer.progress_bar", _auto_or_boolean, "must be auto, true or false", "auto"),
    Rule("progress_bar", _auto_or_boolean, "must be auto, true or false", "auto"),  # evaluate, predict
    Rule("trainer.num_threads", _count, "must be an integer >= 1 or null", "2", nullable=True),
    Rule("num_threads", _count, "must be an integer >= 1 or null", "2", nullable=True),  # evaluate, predict
    Rule(
        "split",
        _one_of(*EVALUATED_SPLITS),
        f"must be one of {', '.join(EVALUATED_SPLITS)} or null",
        "validation",
        nullable=True,
    ),  # evaluate
    Rule(
        "trainer.cpu_isa", _one_of(*ISAS), f"must be one of {', '.join(ISAS)} or null", "avx2", nullable=True
    ),
    Rule("trainer.checkpoint_every_minutes", _non_negative, "must be >= 0 or null", "15", nullable=True),
    Rule("fusion.regularization", _non_negative, "must be >= 0", "0.01"),
    Rule("fusion.temperature", _positive, "must be > 0", "1.0"),
    Rule("fusion.score_dropout", _fraction, "must be in [0, 1)", "0.1"),
    Rule("fusion.sites", lambda v: v in ("all", "ffn"), "must be all or ffn", "all"),
    Rule(
        "fusion.sources",
        _some_names,
        "must be a non-empty list of task names or adapter directories (or null: the 16 tasks)",
        "[rte,mnli]",
        True,
    ),
    Rule("fusion.source_seed", _seed, "must be an integer >= 0 or null", "1", nullable=True),
    Rule("fusion.kind", _one_of(*FUSION_KINDS), f"must be one of {', '.join(FUSION_KINDS)}", "dynamic"),
    Rule(
        "fusion.prune_below",
        _each(lambda v: _number(v) and 0 <= v <= 1),
        "must be a number in [0, 1], a list of them, or null",
        "0.05",
        nullable=True,
    ),
    Rule(
        "fusion.keep_top_k",
        _each(_count),
        "must be an integer >= 1, a list of them, or null",
        "3",
        nullable=True,
    ),
    Rule("fusion.skip_last_layer", _boolean, "must be true or false", "true"),
    Rule(
        "sampling", _one_of(*SAMPLING_RULES), f"must be one of {', '.join(SAMPLING_RULES)}", "anneal"
    ),  # train-multitask
    Rule("tasks", _some_names, "must be a non-empty list of task names", "[rte,cb]"),  # train-multitask
    Rule("data.source", _one_of(*DATA_SOURCES), f"must be one of {', '.join(DATA_SOURCES)}", "local"),
    Rule("data.max_train_examples", _count, "must be an integer >= 1 or null", "1000", nullable=True),
    Rule("data.max_test_examples", _count, "must be an integer >= 1 or null", "1000", nullable=True),
    Rule("data.validation_max_examples", _count, "must be an integer >= 1", "2000"),
    Rule("data.split_seed", _seed, "must be an integer >= 0", "42"),
    Rule("data.max_malformed_fraction", lambda v: _number(v) and 0 <= v <= 1, "must be in [0, 1]", "0.01"),
    Rule("data.validation_fraction", lambda v: _number(v) and 0 < v < 1, "must be in (0, 1)", "0.1"),
)


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError for the first invalid value among RULES, then check the adapter's shape,
    the named choices and the task."""
    check_values(cfg)
    _check_choices(cfg)
    _check_task(cfg)


def check_values(cfg: DictConfig) -> None:
    """The checks that do not depend on this machine (a preset's job groups get them where the
    preset is loaded, on a login node as well as on the GPU node that will run them)."""
    for rule in RULES:
        value = OmegaConf.select(cfg, rule.key, default=_ABSENT, throw_on_missing=False)
        if value is _ABSENT or (value is None and rule.nullable):
            continue
        if not rule.ok(value):
            raise ConfigError(f"{rule.key} {rule.must} (got {_show(value)}); e.g. {rule.key}={rule.example}")
    hidden = OmegaConf.select(cfg, "model.config.hidden_size")  # known before loading: source=config
    reduction_factor = OmegaConf.select(cfg, "adapter.reduction_factor")
    if hidden is not None and reduction_factor is not None:
        check_reduction_factor(reduction_factor, int(hidden))


def _check_choices(cfg: DictConfig) -> None:
    """Values that name something (an activation, a device, a tracker): checked before any data
    preparation or model building, not where they are first used."""
    non_linearity = OmegaConf.select(cfg, "adapter.non_linearity")
    if non_linearity is not None:
        check_non_linearity(str(non_linearity))  # ConfigError listing the valid ones
    for key in ("trainer.device", "device"):  # device: evaluate, predict
        device = OmegaConf.select(cfg, key)
        if device is not None:
            check_device(str(device), key)
    check_cuda_graphs(cfg)
    if OmegaConf.select(cfg, "logger.name") == "wandb" and importlib.util.find_spec("wandb") is None:
        raise ConfigError(
            "logger=wandb needs the wandb package: pip install 'afuse[wandb]' (or use logger=none)"
        )


def _check_task(cfg: DictConfig) -> None:
    """The task config chosen with task=<name> (a researcher's own included), before its data is
    prepared; target= and tasks= configs are checked as they are looked up (afuse.config.task_config)."""
    hydra_config = sys.modules.get("hydra.core.hydra_config")
    if hydra_config is None or not hydra_config.HydraConfig.initialized():
        return
    choice = hydra_config.HydraConfig.get().runtime.choices.get("task")
    if choice and isinstance(cfg.get("task"), DictConfig):
        from afuse.config import check_composed_task

        check_composed_task(cfg.task, choice)


def check_device(device: str, key: str = "trainer.device") -> None:
    """trainer.device (evaluate's and predict's: device): auto | cpu | mps | cuda | cuda:<n>, and
    CUDA only with a torch that has it."""
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", device):
        raise ConfigError(f"{key}={device!r} is not a device; valid: auto, cpu, cuda, cuda:<n>, mps")
    if not device.startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else "no usable GPU"
        raise ConfigError(
            f"{key}={device} but torch {torch.__version__} here has {build}: "
            f"use {key}=auto (GPU when there is one) or {key}=cpu"
        )
    count = torch.cuda.device_count()
    index = int(device.partition(":")[2] or 0)
    if index >= count:
        raise ConfigError(f"{key}={device} but there are {count} GPU(s): use cuda:0 to cuda:{count - 1}")


def check_cuda_graphs(cfg: DictConfig) -> None:
    """trainer.cuda_graphs is true or false, and true only where a captured step can run."""
    graphs = OmegaConf.select(cfg, "trainer.cuda_graphs")
    if graphs is None or graphs is False:
        return
    if graphs is not True:
        raise ConfigError(
            f"trainer.cuda_graphs must be true or false (got {_show(graphs)}); e.g. trainer.cuda_graphs=true"
        )
    from afuse.train.cuda_graphs import check_supported
    from afuse.train.loop import resolve_device

    check_supported(cfg.trainer, resolve_device(str(cfg.trainer.device)), scaler=None)


def check_reduction_factor(reduction_factor: float, hidden_size: int) -> None:
    """The bottleneck hidden_size / reduction_factor must be at least one unit wide.

    AdapterHub silently widens a narrower one to 1; here that would train another adapter than
    the run directory's name (..._rf<reduction_factor>) says.
    """
    if not _positive(reduction_factor):
        raise ConfigError(
            f"adapter.reduction_factor must be > 0 (got {_show(reduction_factor)}); "
            "e.g. adapter.reduction_factor=16"
        )
    if hidden_size / reduction_factor < 1:
        raise ConfigError(
            f"adapter.reduction_factor={_show(reduction_factor)} leaves a bottleneck of "
            f"{hidden_size}/{_show(reduction_factor)} < 1 unit for this model (hidden size {hidden_size}); "
            f"use at most {hidden_size}, e.g. adapter.reduction_factor=16"
        )


def check_labels(task_cfg, head: dict, where) -> None:
    """A head loaded for a task must predict that task's labels (count, and names where known)."""
    kind = "multiple_choice" if task_cfg.kind == "multiple_choice" else "classification"
    if head.get("kind") != kind:
        raise ConfigError(f"{where}: a {head.get('kind')} head, but task {task_cfg.name} needs a {kind} head")
    if kind == "multiple_choice":
        if int(head.get("num_choices") or 0) != int(task_cfg.num_choices):
            raise ConfigError(
                f"{where}: head for {head.get('num_choices')} choices, task {task_cfg.name} has "
                f"{task_cfg.num_choices} (task.num_choices)"
            )
        return
    labels = [str(label) for label in task_cfg.labels]
    if int(head.get("num_labels") or 0) != len(labels):
        raise ConfigError(
            f"{where}: head predicts {head.get('num_labels')} labels, task {task_cfg.name} has "
            f"{len(labels)} (task.labels: {labels})"
        )
    named = [str(label) for label in head.get("labels") or []]
    generic = named == [f"LABEL_{i}" for i in range(len(named))]  # AdapterHub's names when none were given
    if named and not generic and named != labels:
        raise ConfigError(
            f"{where}: head labels {named} differ from task {task_cfg.name}'s labels {labels} "
            "(task.labels; label i of the head must be label i of the task)"
        )


def _show(value) -> str:
    return repr(OmegaConf.to_container(value) if OmegaConf.is_config(value) else value)
