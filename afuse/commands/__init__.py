"""The `afuse` commands: one module each, each with `main(cfg)` run under Hydra.

The registry below is what `afuse --help` lists; the primary config of a command is
conf/<command with '_' for '-'>.yaml.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    name: str
    module: str
    summary: str

    @property
    def config_name(self) -> str:
        return self.name.replace("-", "_")


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in [
        Command(
            "prepare-data",
            "afuse.commands.prepare_data",
            "read a task (Hub or local raw files), carve splits, write parquet + manifest",
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
        ),
        Command(
            "run",
            "afuse.commands.run",
            "run an experiment preset: stage-1 sweep, then stage-2 sweep, then the report",
        ),
        Command(
            "status",
            "afuse.commands.status",
            "table of a preset's jobs: done / running / incomplete / missing / failed",
        ),
        Command(
            "report",
            "afuse.commands.report",
            "the paper's tables (md/csv/tex) and fusion heatmaps from finished runs",
        ),
    ]
}
