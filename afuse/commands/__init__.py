"""The `afuse` commands: one module each, each with `main(cfg)` run under Hydra.

The registry below is what `afuse --help` lists; the primary config of a command is
conf/<command with '_' for '-'>.yaml.
"""

from dataclasses import dataclass

from afuse.overrides import OPEN_MAPPINGS, split_flags


@dataclass(frozen=True)
class Command:
    name: str
    module: str
    summary: str
    # A bare first word sets this key (`afuse list tasks` is `afuse list what=tasks`).
    positional: str | None = None
    # Keys that are a group of settings whose main one is `path`: `file=x.tsv` is `file.path=x.tsv`,
    # so that `file.format=tsv` can go beside it.
    path_keys: tuple[str, ...] = ()
    # Why a sweep (-m) does not apply to the command, for commands that do one thing once.
    no_sweep: str | None = None

    @property
    def config_name(self) -> str:
        return self.name.replace("-", "_")

    def hydra_args(self, argv: list[str]) -> list[str]:
        """The command line as Hydra overrides (see `positional` and `path_keys`), Hydra's flags
        first (afuse.overrides.split_flags)."""
        flags, words = split_flags(argv)
        if self.positional and words and "=" not in words[0]:
            words[0] = f"{self.positional}={words[0]}"
        return flags + [_open_mapping(_path_key(word, self.path_keys)) for word in words]


def _open_mapping(arg: str) -> str:
    """`data.per_task.rte.max_train_examples=10` -> `++...`: a key of the user's choosing, which
    Hydra's struct mode would refuse without a prefix; `++` adds it or overrides it."""
    key = arg.partition("=")[0]
    free = any(key == mapping or key.startswith(f"{mapping}.") for mapping in OPEN_MAPPINGS)
    return f"++{arg}" if free and "=" in arg else arg


def _path_key(arg: str, keys: tuple[str, ...]) -> str:
    key, equals, value = arg.partition("=")
    return f"{key}.path={value}" if equals and key in keys else arg


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in [
        Command(
            "prepare-data",
            "afuse.commands.prepare_data",
            "read a task (Hub or local files), carve splits, write parquet; experiment=<preset>: all its jobs read",
        ),
        Command(
            "train-adapter",
            "afuse.commands.train_adapter",
            "stage 1: train one adapter (ST-A Pfeiffer / Houlsby) and head on a frozen encoder",
        ),
        Command(
            "finetune",
            "afuse.commands.finetune",
            "baselines: fine-tune everything (mode=full) or only the head (mode=head)",
        ),
        Command(
            "fuse",
            "afuse.commands.fuse",
            "stage 2: train AdapterFusion over frozen stage-1 adapters for a target task",
        ),
        Command(
            "train-multitask",
            "afuse.commands.train_multitask",
            "MT-A: shared encoder trained jointly with one adapter and head per task",
        ),
        Command(
            "export",
            "afuse.commands.export",
            "write a finished run as AdapterHub files (adapters, heads, fusion) the library loads",
            no_sweep="it writes one run to one new folder, and a sweep runs every combination of the run= "
            "and out= values; export each run with its own command",
        ),
        Command(
            "run",
            "afuse.commands.run",
            "run an experiment preset: stage-1 sweep, then stage-2 sweep, then the report",
            # -m launched the driver itself as a job of the launcher meant for its jobs
            no_sweep="it launches the preset's sweeps itself, with the launcher you give it "
            "(hydra/launcher=...): one preset per afuse run",
        ),
        Command(
            "status",
            "afuse.commands.status",
            "table of a preset's jobs (no preset: of every run found): done / running / failed / ...",
        ),
        Command(
            "report",
            "afuse.commands.report",
            "the paper's tables (md/csv/tex) and fusion heatmaps from finished runs (a preset's, or all)",
        ),
        Command(
            "evaluate",
            "afuse.commands.evaluate",
            "score a finished run on a split or a labelled file: accuracy, per-class P/R/F1, predictions",
            path_keys=("file",),
        ),
        Command(
            "predict",
            "afuse.commands.predict",
            "label an unlabelled file with a finished run; format=glue|superglue writes a submission",
            path_keys=("file",),
        ),
        Command(
            "list",
            "afuse.commands.listing",
            "list tasks, models, presets or runs (afuse list runs)",
            positional="what",
            no_sweep="it prints what there is, once",
        ),
    ]
}
