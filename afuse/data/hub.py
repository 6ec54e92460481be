"""Read a task from the Hugging Face Hub (data.source=hub) with `datasets.load_dataset`.

The task config's `hub:` section:

    hub:
      path: nyu-mll/glue                  # dataset id on the Hub
      name: rte                           # its config (or null)
      revision: null                      # a branch, tag or commit (null: the default branch);
                                          # refs/convert/parquet: the Hub's parquet export
      splits: {train: train, test: validation}   # our split <- Hub split (official dev -> our test)
      fields: {id: idx, text_a: sentence1, text_b: sentence2, label: label}
      label_aliases: {entailment: entails}       # a Hub label spelling -> one of the task's labels
      label_names: [entailment, neutral]  # plain int labels (no ClassLabel): int i -> label_names[i]
      carve: {}                           # how splits missing on the Hub are carved (see splits.py)
      expected: {train: {rows: 2490, labels: {...}}, test: {...}}   # for experiments/check_hub.py only

Script datasets: datasets >= 4 refuses a repository that still holds a loading script
(`RuntimeError: Dataset scripts are no longer supported, but found <name>.py`). The Hub keeps a
parquet export of every such dataset on the branch `refs/convert/parquet`, one folder per config
(`<config>/<split>/0000.parquet`, `default/` without configs, no README). On that error afuse
reads the export once instead, with one log line; a task config may also pin it (`revision:
refs/convert/parquet`). The export's label columns may be plain ints: `label_names` maps them.

Offline, `load_dataset` retries for ~25 s before failing with a message about the Hub; a short
probe of the Hub endpoint first turns that into one immediate line that says what to do.
"""

import logging

from omegaconf import DictConfig
from tqdm.auto import tqdm

from afuse.config import task_config, task_file_shown
from afuse.data.normalize import Normalizer, RowProblem
from afuse.data.schema import to_frame
from afuse.data.source_read import SourceRead
from afuse.errors import AfuseError, ConfigError, OfflineError
from afuse.hub_probe import hub_unreachable

log = logging.getLogger(__name__)


def _dataset_name(hub: DictConfig) -> str:
    return f"'{hub.path}'" + (f" (config {hub.name})" if hub.get("name") else "")


def offline_error(task: str, hub: DictConfig, reason: str) -> OfflineError:
    from huggingface_hub import constants

    question = "" if constants.HF_HUB_OFFLINE else "no network? "  # offline by choice: no question
    return OfflineError(
        f"task {task}: cannot load dataset {_dataset_name(hub)} from the Hugging Face Hub "
        f"({reason}): {question}{_instead(task)}"
    )


def _instead(task: str) -> str:
    """What to read when the Hub fails: the task's local files, where its config names some (a
    researcher's own Hub-only task has none, and data.source=local would only fail again)."""
    try:
        has_local = bool(task_config(task).get("local"))
    except ConfigError:
        has_local = True
    if has_local:
        return "use data.source=local data.raw_dir=<dir>"
    return f"its config {task_file_shown(task)} has no local: files to read instead; add a local: section or run where the Hub is reachable"


def check_hub_reachable(task: str, hub: DictConfig) -> None:
    """Fail at once when the Hub cannot be reached, instead of after load_dataset's retries.

    With HF_HUB_OFFLINE=1 the probe is skipped: load_dataset then reads its local cache only.
    """
    reason = hub_unreachable()
    if reason is not None:
        raise offline_error(task, hub, reason)


PARQUET_EXPORT = "refs/convert/parquet"
SCRIPT_REFUSED = "Dataset scripts are no longer supported"  # datasets >= 4, datasets/load.py


def is_script_refusal(error: BaseException) -> bool:
    """The error datasets >= 4 raises for a repository that holds a loading script."""
    return isinstance(error, RuntimeError) and SCRIPT_REFUSED in str(error)


def _load(hub: DictConfig, revision: str | None):
    import datasets

    if revision == PARQUET_EXPORT:
        # The export has one folder per config and no README naming them: select the folder.
        return datasets.load_dataset(hub.path, data_dir=hub.get("name") or "default", revision=revision)
    return datasets.load_dataset(hub.path, hub.get("name"), revision=revision)


def load_hub_splits(task: str, hub: DictConfig):
    check_hub_reachable(task, hub)
    import datasets

    revision = hub.get("revision")
    try:
        return _load(hub, revision)
    except Exception as error:  # noqa: BLE001 - every failure of the download becomes one line
        if not is_script_refusal(error) or revision == PARQUET_EXPORT:
            raise _load_error(task, hub, error) from error
        folder = hub.get("name") or "default"
        log.info(
            "%s: %s holds a loading script, which datasets %s no longer runs; "
            "reading the Hub's parquet export of it instead (revision=%s, folder %s/)",
            task,
            _dataset_name(hub),
            datasets.__version__,
            PARQUET_EXPORT,
            folder,
        )
    try:
        return _load(hub, PARQUET_EXPORT)
    except Exception as error:  # noqa: BLE001
        raise _load_error(
            task,
            hub,
            error,
            f"it holds a loading script and its parquet export ({PARQUET_EXPORT}, {folder}/) ",
        ) from error


def _load_error(task: str, hub: DictConfig, error: Exception, context: str = "") -> AfuseError:
    import datasets
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:  # the probe was skipped: the cache was the only place to look
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        return offline_error(
            task, hub, f"HF_HUB_OFFLINE is set and the Hugging Face cache holds no copy of it: {detail}"
        )
    if isinstance(error, datasets.exceptions.DatasetNotFoundError) and not context:
        return _not_found(task, hub, error)
    if isinstance(error, (ConnectionError, TimeoutError)):
        return offline_error(task, hub, type(error).__name__)
    return AfuseError(
        f"task {task}: cannot read dataset {_dataset_name(hub)} from the Hub: {context or ''}"
        f"{'could not be read: ' if context else ''}{type(error).__name__}: {error}; "
        f"pin a readable copy with hub.path / hub.revision in {task_file_shown(task)}, or {_instead(task)}"
    )


def _not_found(task: str, hub: DictConfig, error: Exception) -> ConfigError:
    """The Hub answers a revision it does not have as it answers a dataset it does not have."""
    revision = hub.get("revision")
    where = f" at revision {revision!r}" if revision else ""
    check = "hub.path and hub.revision (a branch, tag or commit of it)" if revision else "hub.path"
    return ConfigError(
        f"task {task}: the Hub has no dataset {_dataset_name(hub)}{where} ({error}); check {check} in "
        f"{task_file_shown(task)}"
    )


def _label_names(task_cfg: DictConfig, dataset, label_field: str):
    """Int labels -> their names (GLUE's 0/1 -> entailment/not_entailment), so the task's label
    order, not the Hub's, decides the ids. The names come from the column's ClassLabel or, where
    the Hub serves plain ints (parquet exports, CosmosQA-like copies), from `hub.label_names`."""
    feature = dataset.features.get(label_field)
    names = getattr(feature, "names", None) or task_cfg.hub.get("label_names")
    if names:
        names = list(names)
        return lambda value: names[value] if isinstance(value, int) and 0 <= value < len(names) else value
    plain_ints = getattr(feature, "dtype", "").startswith(("int", "uint"))
    if plain_ints and task_cfg.kind != "multiple_choice":
        raise ConfigError(
            f"task {task_cfg.name}: the Hub's {label_field!r} column holds plain ints without label names; "
            f"list the label of each int in hub.label_names of {task_file_shown(task_cfg.name)}, "
            f"e.g. label_names: {list(task_cfg.labels)}"
        )
    return None


def _rows(
    task_cfg: DictConfig, dataset, hub_split: str, normalizer: Normalizer, result: SourceRead
) -> list[dict]:
    label_field = task_cfg.hub.fields.label
    to_name = _label_names(task_cfg, dataset, label_field)
    result.malformed.seen(f"hub:{hub_split}", len(dataset))
    rows = []
    for position, record in enumerate(tqdm(dataset, desc=f"{task_cfg.name} {hub_split}", disable=None)):
        if to_name is not None:
            record = {**record, label_field: to_name(record[label_field])}
        try:
            row = normalizer.row(record)
        except RowProblem as problem:
            result.malformed.add(f"hub:{hub_split}", str(position), str(problem))
            continue
        row["id"] = f"{hub_split}:{row['id'] or position}"
        rows.append(row)
    return rows


def read_hub(task_cfg: DictConfig) -> SourceRead:
    hub = task_cfg.get("hub")
    if not hub:
        origin = (task_cfg.get("local") or {}).get("origin", "its authors")
        raise ConfigError(
            f"task {task_cfg.name} has no Hugging Face Hub source; get its files from {origin} "
            "and use data.source=local data.raw_dir=<dir>"
        )
    dataset_dict = load_hub_splits(task_cfg.name, hub)
    normalizer = Normalizer(task_cfg, hub)
    result = SourceRead(splits={}, origins={}, notes=list(hub.get("notes") or []))
    for split, hub_split in hub.splits.items():
        if hub_split not in dataset_dict:
            raise AfuseError(
                f"task {task_cfg.name}: dataset {_dataset_name(hub)} has no split {hub_split!r} "
                f"(it has: {', '.join(dataset_dict)}); fix hub.splits in {task_file_shown(task_cfg.name)}"
            )
        result.splits[split] = to_frame(
            _rows(task_cfg, dataset_dict[hub_split], hub_split, normalizer, result)
        )
        result.origins[split] = (
            f"hub {hub.path}" + (f"/{hub.name}" if hub.get("name") else "") + f" [{hub_split}]"
        )
    result.source_files.append(
        {
            "hub": hub.path,
            "name": hub.get("name"),
            "revision": hub.get("revision"),
            "fingerprints": {s: getattr(dataset_dict[s], "_fingerprint", None) for s in hub.splits.values()},
        }
    )
    return result
