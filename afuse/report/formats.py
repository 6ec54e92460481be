"""Tables as Markdown, LaTeX and CSV text: deterministic (same table, same bytes), `\\n` line ends.

Markdown is written here rather than with DataFrame.to_markdown, which needs the `tabulate`
package that afuse does not otherwise depend on.
"""

import re

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
        # LaTeX's default font encoding (OT1) prints these ASCII characters as ¡ ¿ —
        "<": r"\textless{}",
        ">": r"\textgreater{}",
        "|": r"\textbar{}",
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
        "§": r"$^{\S}$",
        "⁎": r"$^{*}$",
        "°": r"$^{\circ}$",
    }
)


# An ASCII hyphen that starts a number ("-2.98", a delta) is a minus sign in print; one inside a
# word or number ("ST-A", "1e-3", "57-75") is not.
NEGATIVE = re.compile(r"(?<![\w.])-(?=\d)")


def latex(text: str) -> str:
    """Display text as LaTeX: special characters escaped, symbols as math, `code` as \\texttt."""
    escaped = NEGATIVE.sub("\u2212", str(text).replace("->", "→")).translate(LATEX)
    return re.sub(r"`([^`]*)`", r"\\texttt{\1}", escaped)


BOLD_NOTE = "Bold: the best mean of the task's row, compared as shown (2 decimals)."
MARKED = re.compile(r"(.*?)([†‡§⁎°]*)")  # a value and the marks that follow it (afuse.report.tables)


def latex_table(
    table: pd.DataFrame, caption: str, label: str, notes: list[str], bold: pd.DataFrame | None = None
) -> str:
    """A booktabs tabular in a table environment, every cell, header, caption and note translated.

    Each column of values is set as two: `r@{ }l`, the cell's first word (the mean, an arrow, a
    count) right-aligned and the rest (± std (n) and the marks) left-aligned, so that the means of a
    column line up on their decimal point whatever follows them; its header spans both. `bold`
    (True where a cell's value is set in bold: tables.best_cells) adds a note saying so."""
    marked = bold is not None and bool(bold.to_numpy().any())
    bold = bold if marked else pd.DataFrame(False, index=table.index, columns=table.columns)
    header = [
        latex(table.index.name or ""),
        *(f"\\multicolumn{{2}}{{c}}{{{latex(c)}}}" for c in table.columns),
    ]
    rows = [
        [latex(index), *(_split_cell(cell, strong) for cell, strong in zip(row, flags, strict=True))]
        for index, row, flags in zip(table.index, table.to_numpy(), bold.to_numpy(), strict=True)
    ]
    notes = [*notes, BOLD_NOTE] if marked else notes
    lines = [
        "% afuse report; needs \\usepackage{booktabs}",
        "\\begin{table}[t]",
        "\\centering",
        "\\small",
        "\\begin{tabular}{l" + "r@{\\ }l" * len(table.columns) + "}",
        "\\toprule",
        " & ".join(header) + " \\\\",
        "\\midrule",
        *(" & ".join(row) + " \\\\" for row in rows),
        "\\bottomrule",
        "\\end{tabular}",
        f"\\caption{{{latex(caption)}}}",
        f"\\label{{{label}}}",
        *(f"\\par\\footnotesize {latex(note)}" for note in notes),
        "\\end{table}",
    ]
    return "\n".join(lines) + "\n"


def _split_cell(cell, bold: bool = False) -> str:
    """'68.46 ± 0.28 (3)⁎' -> '68.46 & $\\pm$ 0.28 (3)$^{*}$': the two halves of a value column."""
    first, _, rest = str(cell).partition(" ")
    value, marks = MARKED.fullmatch(first).groups()  # '46.25†', '–§': the mark goes right of the value
    value = f"\\textbf{{{latex(value)}}}" if bold else latex(value)
    return f"{value} & {latex(marks + (' ' if marks and rest else '') + rest)}"


def csv_text(table: pd.DataFrame) -> str:
    return table.to_csv(float_format=CSV_FLOAT_FORMAT, lineterminator="\n")
