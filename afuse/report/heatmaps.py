"""Fusion activation heatmaps, as in the paper's Figures 4 and 6.

Per layer: rows = target tasks (one Fusion model each), columns = source adapters, cell = the
mean softmax weight the target's Fusion layer gives that adapter over the test set's tokens
(activations.json), averaged over the target's finished seeds. One figure per layer and one
grid of all layers, on one colour scale from 0 to 1 so that layers and figures compare. A fusion
at two sites per layer (Houlsby sources) gets one block of target rows per site: first the
fusion after attention, then the one after the FFN.

Figures are built on matplotlib.figure.Figure (no pyplot, so no global state and no display
needed) and saved without timestamps, so the same activations give the same bytes.
"""

import io
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from afuse.config import paper_order
from afuse.errors import AfuseError
from afuse.report.tables import display_name
from afuse.sites import POSITIONS

CMAP = "viridis"
SITE_LABELS = {"attn": "after attention", "ffn": "after FFN"}
MISSING_COLOUR = "#dddddd"  # a source a target's Fusion did not have
# What makes PDFs differ from run to run: the creation date. PNGs carry no date.
SAVE_METADATA = {"png": {}, "pdf": {"CreationDate": None, "ModDate": None}}


@dataclass(frozen=True)
class ActivationCube:
    column: str
    variant: str
    targets: list[str]
    sources: list[str]
    weights: np.ndarray  # (layers, sites x targets, sources); NaN where a target's Fusion lacks a source
    seeds: dict[str, int]  # target -> number of seeds averaged
    sites: tuple[str, ...] = ("ffn",)  # the row blocks, in forward order
    expected: dict[str, int] = field(default_factory=dict)  # target -> seeds the preset asks for

    @property
    def layers(self) -> int:
        return self.weights.shape[0]

    @property
    def rows(self) -> list[tuple[str, str]]:
        """(site, target) of each row: one block of targets per site."""
        return [(site, target) for site in self.sites for target in self.targets]


def activation_cubes(activations: pd.DataFrame) -> list[ActivationCube]:
    """One cube per (column, Fusion variant) from collect.read_activations' rows."""
    cubes = []
    for (column, variant), frame in activations.groupby(["column", "variant"], sort=False):
        layers_per_target = frame.groupby("target").layer.max()
        if layers_per_target.nunique() != 1:
            raise AfuseError(
                f"{column}: Fusion runs disagree on the number of layers: {layers_per_target.to_dict()}"
            )
        targets, sources = paper_order(frame.target), paper_order(frame.source)
        sites = tuple(p for p in POSITIONS if p in set(frame.site))
        layers = range(1, int(layers_per_target.iloc[0]) + 1)
        mean = frame.groupby(["layer", "site", "target", "source"]).weight.mean()
        index = pd.MultiIndex.from_product(
            [layers, sites, targets, sources], names=["layer", "site", "target", "source"]
        )
        shape = (len(layers), len(sites) * len(targets), len(sources))
        weights = mean.reindex(index).to_numpy().reshape(shape)
        seeds = frame.groupby("target").seed.nunique()
        cubes.append(
            ActivationCube(
                column, variant, targets, sources, weights, {t: int(seeds[t]) for t in targets}, sites
            )
        )
    return cubes


def cube_frame(cube: ActivationCube) -> pd.DataFrame:
    """The cube as a tidy table (for activations.csv); a `site` column when it has several."""
    layers, sites, targets, sources = np.meshgrid(
        np.arange(1, cube.layers + 1), cube.sites, cube.targets, cube.sources, indexing="ij"
    )
    columns = {
        "layer": layers.ravel(),
        "site": sites.ravel(),
        "target": targets.ravel(),
        "source": sources.ravel(),
        "mean_weight": cube.weights.ravel(),
        "seeds": [cube.seeds[t] for t in targets.ravel()],
    }
    if len(cube.sites) == 1:
        del columns["site"]
    return pd.DataFrame(columns)


# --- figures ---------------------------------------------------------------------------------
# Sizes in inches, laid out by hand: matplotlib's constrained layout doubles the time per figure,
# and a 16 x 16 report has dozens of figures. Label space is estimated from the longest label.

CHAR_WIDTH = {9: 0.075, 7: 0.06}  # inches per character of a tick label at that font size


def layer_figure(cube: ActivationCube, layer: int, model: str, annotate: bool) -> Figure:
    """The heatmap of one layer (1-based, as the paper counts)."""
    rows, cols = len(cube.rows), len(cube.sources)
    # Cell size in inches; small matrices get bigger cells.
    cell_w, cell_h = min(0.9, max(0.42, 3.2 / cols)), min(0.6, max(0.34, 1.8 / rows))
    left, bottom = _label_space(cube, fontsize=9)
    top, right = 0.95, 1.25
    width, height = left + cell_w * cols + right, bottom + cell_h * rows + top
    title = _title(cube, model, "\n")
    minimum = max(6.0, _title_width(title, 11))  # wide enough for the title; the plot centred
    centre = max(0.0, minimum - width) / 2
    width = max(width, minimum)
    fig = Figure(figsize=(width, height))
    ax = fig.add_axes(_box(left + centre, bottom, cell_w * cols, cell_h * rows, width, height))
    colour_bar = fig.add_axes(
        _box(left + centre + cell_w * cols + 0.2, bottom, 0.15, cell_h * rows, width, height)
    )
    image = _draw(ax, cube, layer, x_labels=True, y_labels=True, fontsize=9)
    if annotate:
        _annotate(ax, cube.weights[layer - 1])
    ax.set_title(f"layer {layer} of {cube.layers}", fontsize=10)
    ax.set_xlabel("source adapter")
    ax.set_ylabel("target task")
    fig.colorbar(image, cax=colour_bar, label="mean Fusion weight")
    fig.suptitle(title, fontsize=11, y=1 - 0.1 / height, va="top")
    return fig


def grid_figure(cube: ActivationCube, model: str) -> Figure:
    """Every layer in one figure (four per row), one shared colour bar."""
    ncols = min(4, cube.layers)
    nrows = math.ceil(cube.layers / ncols)
    rows, cols = len(cube.rows), len(cube.sources)
    panel_w, panel_h = max(1.6, 0.2 * cols), max(1.2, 0.2 * rows)
    gap_w, gap_h = 0.25, 0.35
    left, bottom = _label_space(cube, fontsize=7)
    top, right = 0.6, 1.2
    title = _title(cube, model, " · ") + "\nrows: target task, columns: source adapter"
    width = left + ncols * panel_w + (ncols - 1) * gap_w + right
    left += max(0.0, _title_width(title, 10) - width) / 2  # a small grid under a long title: centred
    width = max(width, _title_width(title, 10))
    height = bottom + nrows * panel_h + (nrows - 1) * gap_h + top
    fig = Figure(figsize=(width, height))
    for index in range(cube.layers):
        row, col = divmod(index, ncols)
        x, y = left + col * (panel_w + gap_w), bottom + (nrows - 1 - row) * (panel_h + gap_h)
        ax = fig.add_axes(_box(x, y, panel_w, panel_h, width, height))
        # Source names under the lowest plot of each column, target names left of each row.
        image = _draw(
            ax, cube, index + 1, x_labels=index + ncols >= cube.layers, y_labels=col == 0, fontsize=7
        )
        ax.set_title(f"layer {index + 1}", fontsize=8)
    plots_w = ncols * panel_w + (ncols - 1) * gap_w
    colour_bar = fig.add_axes(_box(left + plots_w + 0.25, bottom, 0.15, height - bottom - top, width, height))
    fig.colorbar(image, cax=colour_bar, label="mean Fusion weight")
    fig.suptitle(title, fontsize=10, y=1 - 0.08 / height, va="top")
    return fig


def _title_width(title: str, fontsize: int) -> float:
    """Inches the title's longest line needs, with a margin (DejaVu Sans: at most ~0.62 em a
    character in these titles): a run's column name makes it long, a tiny model's grid narrow."""
    return 0.5 + max(map(len, title.splitlines())) * fontsize * 0.62 / 72


def _label_space(cube: ActivationCube, fontsize: int) -> tuple[float, float]:
    """Inches left of the plot (target names) and below it (rotated source names)."""
    char = CHAR_WIDTH[fontsize]
    longest_target = max(len(_row_label(cube, site, t)) for site, t in cube.rows)
    longest_source = max(len(display_name(s)) for s in cube.sources)
    return 0.45 + char * longest_target, 0.45 + char * longest_source


def _box(x: float, y: float, w: float, h: float, width: float, height: float) -> list[float]:
    """An axes rectangle in inches -> figure fractions."""
    return [x / width, y / height, w / width, h / height]


def _draw(ax, cube: ActivationCube, layer: int, x_labels: bool, y_labels: bool, fontsize: int):
    matrix = np.ma.masked_invalid(cube.weights[layer - 1])
    image = ax.imshow(matrix, vmin=0.0, vmax=1.0, cmap=_cmap(), aspect="auto", interpolation="nearest")
    ax.set_xticks(
        range(len(cube.sources)),
        [display_name(s) for s in cube.sources] if x_labels else [],
        rotation=90,
        fontsize=fontsize,
    )
    ax.set_yticks(
        range(len(cube.rows)),
        [_row_label(cube, site, t) for site, t in cube.rows] if y_labels else [],
        fontsize=fontsize,
    )
    for block in range(1, len(cube.sites)):  # a line between the sites' row blocks
        ax.axhline(block * len(cube.targets) - 0.5, color="white", linewidth=1.5)
    return image


def _annotate(ax, matrix: np.ndarray) -> None:
    for (row, col), value in np.ndenumerate(matrix):
        if not np.isnan(value):
            colour = "black" if value > 0.6 else "white"  # viridis is light above ~0.6
            ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=7, color=colour)


def _cmap():
    return colormaps[CMAP].with_extremes(bad=MISSING_COLOUR)


def _target_label(cube: ActivationCube, target: str) -> str:
    """'RTE (3 seeds)'; a row averaged over fewer seeds than the preset asks for says so, as
    its table cell does: 'RTE (1 of 3 seeds)'."""
    seeds, expected = cube.seeds[target], cube.expected.get(target, 0)
    if seeds < expected:
        return f"{display_name(target)} ({seeds} of {expected} seeds)"
    return display_name(target) + (f" ({seeds} seeds)" if seeds > 1 else "")


def _row_label(cube: ActivationCube, site: str, target: str) -> str:
    label = _target_label(cube, target)
    return label if len(cube.sites) == 1 else f"{label} · {SITE_LABELS.get(site, site)}"


def _title(cube: ActivationCube, model: str, separator: str) -> str:
    return f"Fusion activations · {model}{separator}{cube.column} ({cube.variant})"


def figure_bytes(fig: Figure, fmt: str, dpi: int = 150) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=dpi, metadata=SAVE_METADATA[fmt])
    return buffer.getvalue()
