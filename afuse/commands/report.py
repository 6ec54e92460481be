"""`afuse report experiment=<preset>`: tables and heatmaps from a preset's finished runs."""

from omegaconf import DictConfig

from afuse.report.build import build_report


def main(cfg: DictConfig) -> None:
    out = build_report(cfg)
    print(f"afuse report: wrote {out}/report.md (tables: accuracy, paper_comparison, table2; heatmaps/)")
