"""`afuse report experiment=<preset>`: tables and heatmaps from a preset's finished runs."""

from pathlib import Path

from omegaconf import DictConfig

from afuse.report.build import MANIFEST, build_report


def main(cfg: DictConfig) -> None:
    out = build_report(cfg)
    if out is not None:
        print(f"afuse report: wrote {out}/report.md ({written(out)})")


def written(out: Path) -> str:
    """What this report holds, from its list of files: "tables: accuracy, table2; heatmaps/"."""
    names = (out / MANIFEST).read_text().split()
    tables = sorted({Path(n).stem for n in names if "/" not in n and n.endswith(".md") and n != "report.md"})
    heatmaps = (
        "; heatmaps/"
        if any(n.startswith("heatmaps/") for n in names)
        else "; no heatmaps (no finished fusion run with activations.json that is not stale)"
    )
    return f"tables: {', '.join(tables)}{heatmaps}"
