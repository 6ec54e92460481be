"""Tables as Markdown, LaTeX and CSV text: deterministic (same table, same bytes), `\\n` line ends.

Markdown is written here rather than with DataFrame.to_markdown, which needs the `tabulate`
package that afuse does not otherwise depend on.
"""

import pandas as pd

CSV_FLOAT_FORMAT = "%.4f"


def markdown_table(table: pd.DataFrame) -> str:
    """A GitHub Markdown table; the index is the first column, text columns left-aligned, the rest right."""
    header = [table.index.name or "", *map(str, table.columns)]
    rows = [[str(index), *map(str, row)] for index, row in zip(table.index, table.to_numpy(), strict=True)]
    lines = [_markdown_row(header), _markdown_row([":--", *["--:"] * len(table.columns)])]
    return "\n".join([*lines, *map(_markdown_row, rows)]) + "\n"


def _markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", r"\|") for cell in cells) + " |"


def markdown_document(title: str, table: pd.DataFrame, notes: list[str]) -> str:
    notes_text = "".join(f"- {note}\n" for note in notes)
    return f"## {title}\n\n{markdown_table(table)}\n{notes_text}"


# Unicode in the display strings -> LaTeX, in one pass (so inserted backslashes are not re-escaped).
LATEX = str.maketrans(
    {
        "\\": r"\textbackslash{}",
        "&": r"\&",
        "%": r"\%",
        "_": r"\_",
        "#": r"\#",
        "$": r"\$",
        "{": r"\{",
        "}": r"\}",
        "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}",
        "±": r"$\pm$",
        "−": "$-$",
        "Δ": r"$\Delta$",
        "†": r"$^\dagger$",
        "‡": r"$^\ddagger$",
        "↑": r"$\uparrow$",
        "→": r"$\rightarrow$",
        "↓": r"$\downarrow$",
        "–": "--",
        "·": r"$\cdot$",
        "§": r"\S{}",
        "⁎": r"$^{*}$",
        "°": r"$^{\circ}$",
    }
)


def latex(text: str) -> str:
    return str(text).translate(LATEX)


def latex_table(table: pd.DataFrame, caption: str, label: str, notes: list[str]) -> str:
    """A booktabs tabular in a table environment, every cell, header, caption and note translated."""
    table = table.reset_index().map(latex)  # the index as a plain first column: one header row
    table.columns = [latex(c) for c in table.columns]
    body = table.to_latex(escape=False, index=False, column_format="l" + "r" * (len(table.columns) - 1))
    notes_text = "".join(f"\\par\\footnotesize {latex(note)}\n" for note in notes)
    return (
        "% afuse report; needs \\usepackage{booktabs}\n"
        "\\begin{table}[t]\n\\centering\n\\small\n"
        f"{body}"
        f"\\caption{{{latex(caption)}}}\n\\label{{{label}}}\n"
        f"{notes_text}"
        "\\end{table}\n"
    )


def csv_text(table: pd.DataFrame) -> str:
    return table.to_csv(float_format=CSV_FLOAT_FORMAT, lineterminator="\n")
