"""The paper's published numbers (afuse/report/paper_numbers.yaml), as the report reads them."""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

NUMBERS_FILE = Path(__file__).with_name("paper_numbers.yaml")
PAPER_TABLES = ("table1", "table3", "table4")


@dataclass(frozen=True)
class PaperCell:
    mean: float
    std: float | None  # None where the paper printed no std

    def text(self) -> str:
        return f"{self.mean:.2f}" if self.std is None else f"{self.mean:.2f} ± {self.std:.2f}"


@dataclass(frozen=True)
class PaperTable:
    name: str
    title: str
    model: str
    columns: tuple[str, ...]
    row_labels: dict[str, str]  # task -> the row's label as printed
    cells: dict[tuple[str, str], PaperCell]  # (column, task) -> cell
    printed_mean: dict[str, float]

    def cell(self, column: str, task: str) -> PaperCell | None:
        return self.cells.get((column, task))


@dataclass(frozen=True)
class PaperComparisons:
    """The paper's Table 2: arrows per task for (fusion column, baseline column) pairs."""

    comparisons: tuple[tuple[str, str], ...]
    arrows: dict[tuple[tuple[str, str], str], str]  # ((fusion, baseline), task) -> ↑ → ↓
    improved: dict[tuple[str, str], str]


def parse_cell(text: str) -> PaperCell:
    """'82.49 ± 0.49' or '84.32' -> PaperCell."""
    mean, _, std = str(text).partition("±")
    return PaperCell(float(mean), float(std) if std.strip() else None)


@cache
def _numbers() -> dict:
    return yaml.safe_load(NUMBERS_FILE.read_text(encoding="utf-8"))


@cache
def paper_table(name: str) -> PaperTable:
    spec = _numbers()[name]
    columns = tuple(spec["columns"])
    cells, labels = {}, {}
    for task, (label, *values) in spec["rows"].items():
        labels[task] = label
        for column, value in zip(columns, values, strict=True):
            cells[(column, task)] = parse_cell(value)
    printed = dict(zip(columns, map(float, spec["printed_mean"]), strict=True))
    return PaperTable(name, spec["title"], spec["model"], columns, labels, cells, printed)


@cache
def paper_comparisons() -> PaperComparisons:
    spec = _numbers()["table2"]
    comparisons = tuple(tuple(pair) for pair in spec["comparisons"])
    arrows = {
        (pair, task): arrow
        for task, (_label, *row) in spec["rows"].items()
        for pair, arrow in zip(comparisons, row, strict=True)
    }
    return PaperComparisons(comparisons, arrows, dict(zip(comparisons, spec["improved"], strict=True)))


def paper_row_label(task: str) -> str | None:
    """The task's row label in Table 1 (MNLI, SST, WGrande, ...)."""
    return paper_table("table1").row_labels.get(task)
