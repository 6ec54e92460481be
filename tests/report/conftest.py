"""Fixtures: a hand-checked preset with its runs under tmp_path (compose_preset: tests/conftest.py)."""

import pytest
from omegaconf import open_dict

from tests.synthetic import write_run

# A small preset whose numbers are worked out by hand in test_tables.py: ST-A and Fusion on RTE
# and CB, Head on RTE only, three seeds, some runs missing.
HAND_PRESET = {
    "name": "hand",
    "seeds": [1, 2, 3],
    "stage1": {
        "st_a": {"command": "train-adapter", "tasks": ["rte", "cb"]},
        "head": {"command": "finetune", "tasks": ["rte"], "overrides": ["mode=head"]},
    },
    "stage2": {"fusion": {"sources": "st_a"}},
    "report": {
        "paper_table": "table1",
        "columns": {"Head": "head", "ST-A": "st_a", "F. w/ ST-A": "fusion"},
        "comparisons": [["F. w/ ST-A", "ST-A"]],
    },
}
# (group, task) -> test accuracy per seed 1, 2, 3; None = no finished run
HAND_ACCURACIES = {
    ("st_a", "rte"): [0.70, 0.72, 0.74],  # 72.00 ± 2.00 (3)
    ("st_a", "cb"): [0.80, None, None],  # 80.00 (1/3)†
    ("fusion", "rte"): [0.75, 0.77, None],  # 76.00 ± 1.41 (2/3)†
    ("fusion", "cb"): [0.80, 0.81, 0.79],  # 80.00 ± 1.00 (3)
    ("head", "rte"): [None, None, None],  # –
}


@pytest.fixture
def hand_config(compose_preset):
    """The report config of HAND_PRESET with its runs written under tmp_path."""
    from afuse.experiment import load_experiment

    cfg = compose_preset("cpu_small")
    with open_dict(cfg):
        cfg.experiment = HAND_PRESET
    experiment = load_experiment(cfg)
    for (group, task), accuracies in HAND_ACCURACIES.items():
        for job in experiment.groups[group].jobs:
            if job.task == task and accuracies[job.seed - 1] is not None:
                write_run(job.run_dir, accuracies[job.seed - 1])
    return cfg


@pytest.fixture
def compile_latex(tmp_path):
    """compile_latex(*tex_files): pdflatex over a minimal article that \\input's them, with just
    the packages their first line says they need; fails with pdflatex's error. Skipped where no
    TeX is installed (apt-get install texlive-latex-base texlive-latex-recommended)."""
    import re
    import shutil
    import subprocess

    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")

    def compile_(*files):
        packages = sorted(
            {p for f in files for p in re.findall(r"\\usepackage\{(\w+)\}", f.read_text().splitlines()[0])}
        )
        body = "".join(f"\\input{{{f.as_posix()}}}\n\\clearpage\n" for f in files)
        document = tmp_path / "paper.tex"
        document.write_text(
            "\\documentclass{article}\n"
            + "".join(f"\\usepackage{{{p}}}\n" for p in packages)
            + f"\\begin{{document}}\n{body}\\end{{document}}\n"
        )
        done = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", document.name],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        errors = [line for line in done.stdout.splitlines() if line.startswith("!")]
        assert done.returncode == 0, errors or done.stdout[-2000:]
        return done.stdout

    return compile_
