"""The report's layout for a preset (`experiment.report`): which job groups make which column.

    report:
      paper_table: table1          # the paper table to set beside ours (afuse/report/paper_numbers.yaml)
      columns:                     # column label -> job group(s), in display order. A label that is
        ST-A: [st_a, st_a_more]    #   also a column of paper_table is compared with the paper's numbers.
        F. w/ ST-A: fusion_st_a
      comparisons:                 # Table 2: [fusion column, baseline column] pairs
        - [F. w/ ST-A, ST-A]

Without `columns`, every job group is a column named after the group.
"""

from dataclasses import dataclass

from afuse.errors import ConfigError
from afuse.experiment import Experiment, Group, preset_error
from afuse.report.paper import PAPER_TABLES


@dataclass(frozen=True)
class Column:
    label: str
    groups: tuple[Group, ...]

    @property
    def is_fusion(self) -> bool:
        return all(g.stage == 2 for g in self.groups)


@dataclass(frozen=True)
class Layout:
    columns: tuple[Column, ...]
    paper_table: str | None
    comparisons: tuple[tuple[str, str], ...]

    def column(self, label: str) -> Column:
        return next(c for c in self.columns if c.label == label)


def report_layout(experiment: Experiment) -> Layout:
    """The layout `experiment.report` asks for; a mistake in it raises a ConfigError naming the
    preset's file and key (`afuse run` and `afuse status` check it before any job starts)."""
    try:
        return _layout(experiment)
    except ConfigError as error:
        raise preset_error(experiment.source, error) from error


def _layout(experiment: Experiment) -> Layout:
    spec = experiment.report
    where = "experiment.report"
    unknown = sorted(set(spec) - {"columns", "paper_table", "comparisons"})
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; valid: columns, comparisons, paper_table"
        )
    columns = _columns(spec.get("columns"), experiment, f"{where}.columns")
    paper_table = spec.get("paper_table")
    if paper_table is not None and paper_table not in PAPER_TABLES:
        raise ConfigError(
            f"{where}.paper_table: {paper_table!r} is not one of: {' '.join(PAPER_TABLES)} (or null)"
        )
    comparisons = _comparisons(spec.get("comparisons") or [], columns, f"{where}.comparisons")
    return Layout(tuple(columns), paper_table, comparisons)


def _comparisons(pairs, columns: list[Column], where: str) -> tuple[tuple[str, str], ...]:
    """Table 2's [fusion column, baseline column] pairs. A stage-1 column first was accepted and
    drawn under "Fusion compared to its baselines" with its arrows read as the Fusion's."""
    if not isinstance(pairs, list):
        raise ConfigError(
            f"{where}: expected a list of [fusion column, baseline column] pairs, got {pairs!r}"
        )
    labels = [c.label for c in columns]
    fusion_labels = [c.label for c in columns if c.is_fusion]
    for pair in pairs:
        if not (isinstance(pair, list) and len(pair) == 2 and all(label in labels for label in pair)):
            raise ConfigError(
                f"{where}: {pair!r} must be [fusion column, baseline column], both among the columns: {labels}"
            )
        if pair[0] not in fusion_labels or pair[0] == pair[1]:
            raise ConfigError(
                f"{where}: {pair!r} must start with a Fusion column compared to another column; "
                f"Fusion columns: {fusion_labels or 'none (no stage-2 group)'}"
            )
    return tuple((pair[0], pair[1]) for pair in pairs)


def _columns(spec, experiment: Experiment, where: str) -> list[Column]:
    if not spec:
        return [Column(name, (group,)) for name, group in experiment.groups.items()]
    if not isinstance(spec, dict):
        raise ConfigError(
            f"{where}: expected a mapping of column label -> job group(s), e.g. {{ST-A: st_a}}, got {spec!r}"
        )
    columns = []
    for label, names in spec.items():
        names = [names] if isinstance(names, str) else list(names or [])
        for name in names:
            if name not in experiment.groups:
                raise ConfigError(
                    f"{where}.{label}: {name!r} is not a job group of {experiment.name}; "
                    f"groups: {' '.join(experiment.groups)}"
                )
        groups = tuple(experiment.groups[name] for name in names)
        if not groups:
            raise ConfigError(f"{where}.{label}: name the job group(s) of this column")
        if len({g.stage for g in groups}) > 1:
            raise ConfigError(f"{where}.{label}: a column is either stage-1 or Fusion groups, not both")
        columns.append(Column(str(label), groups))
    return columns
