"""The report's LaTeX: escaped, aligned and set as a paper sets numbers (formats.latex_table)."""

import pandas as pd

from afuse.report import formats


def table(rows: dict[str, list[str]], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows.values()), index=list(rows), columns=columns)
    frame.index.name = "Task"
    return frame


def tabular_rows(tex: str) -> list[str]:
    lines = tex.splitlines()
    return lines[lines.index("\\midrule") + 1 : lines.index("\\bottomrule")]


def test_task_and_column_names_are_escaped():
    tex = formats.latex_table(
        table({"my_task": ["47.50 ± 8.66 (3)"]}, ["Acc. 100% & co #1"]), "my_exp", "tab:x", ["50% of `a_b`"]
    )
    assert "Acc. 100\\% \\& co \\#1" in tex and "my\\_task &" in tex and "\\caption{my\\_exp}" in tex
    assert "50\\% of \\texttt{a\\_b}" in tex  # a command or key in a note, as code


def test_the_means_of_a_column_line_up_whatever_follows_them():
    # Right-aligned whole cells put a mean followed by marks or "(2/3)" left of the others.
    tex = formats.latex_table(
        table({"RTE": ["68.46 ± 0.28 (3)"], "SICK": ["61.80 ± 1.56 (2/3)†⁎"], "CB": ["47.40 (1)"], "MNLI": ["–§"],
               "Mean": ["63.42†"]},
              ["Head"]),
        "c", "tab:x", [],
    )  # fmt: skip
    assert "\\begin{tabular}{lr@{\\ }l}" in tex and "\\multicolumn{2}{c}{Head}" in tex
    assert tabular_rows(tex) == [
        "RTE & 68.46 & $\\pm$ 0.28 (3) \\\\",
        "SICK & 61.80 & $\\pm$ 1.56 (2/3)$^\\dagger$$^{*}$ \\\\",
        "CB & 47.40 & (1) \\\\",
        "MNLI & -- & $^{\\S}$ \\\\",
        "Mean & 63.42 & $^\\dagger$ \\\\",
    ]


def test_a_negative_number_gets_a_minus_sign_and_a_hyphen_stays_a_hyphen():
    assert formats.latex("↓ -2.98") == "$\\downarrow$ $-$2.98"
    assert formats.latex("(-0.50)") == "($-$0.50)"
    for text in ("ST-A", "trainer.lr=1e-3", "lines 57-75", "src-2a2a30"):
        assert formats.latex(text) == text


def test_every_mark_is_a_superscript():
    for mark in "†‡⁎°§":  # tables.PARTIAL, PARTIAL_MEAN, SAMPLED, CARVED, LEFT_OUT
        assert formats.latex(mark).startswith("$^"), mark


def test_a_table_of_every_symbol_compiles_with_the_packages_it_names(compile_latex, tmp_path):
    rows = {
        "my_task": ["68.46 ± 0.28 (2/3)†§⁎°", "↑ +2.53", "-36.92"],
        "RTE": ["–", "→ -0.08", "Δ"],
        "Mean": ["63.42 (1/2)‡†", "2/4", "10/16 (4/4 of ours)"],
    }
    tex = formats.latex_table(
        table(rows, ["Head 100% & co", "F. w/ ST-A vs ST-A", "~x^y{z}$\\"]),
        "Table: my_exp", "tab:my_exp-accuracy", ["§ = left out; see `afuse status`", "1e-3 ± 0.30 · 70%"],
    )  # fmt: skip
    path = tmp_path / "table.tex"
    path.write_text(tex)
    compile_latex(path)


def test_bold_cells_set_their_value_in_bold_and_say_so():
    frame = table({"RTE": ["72.00 ± 2.00 (3)⁎", "76.00 ± 1.41 (3)"]}, ["ST-A", "Fusion"])
    bold = pd.DataFrame([[False, True]], index=frame.index, columns=frame.columns)
    tex = formats.latex_table(frame, "c", "tab:x", [], bold)
    assert tabular_rows(tex) == [
        "RTE & 72.00 & $\\pm$ 2.00 (3)$^{*}$ & \\textbf{76.00} & $\\pm$ 1.41 (3) \\\\"
    ]
    assert "Bold: the best mean" in tex
    assert "Bold" not in formats.latex_table(frame, "c", "tab:x", [], bold & False)


def test_ascii_that_the_default_font_encoding_misprints_is_spelt_out():
    # A stale run's note, "(run -> preset: trainer.lr: 0.002 -> 0.001)", printed "run -¿ preset".
    assert formats.latex("run -> preset") == "run $\\rightarrow$ preset"
    assert formats.latex("a < b > c | d") == "a \\textless{} b \\textgreater{} c \\textbar{} d"
