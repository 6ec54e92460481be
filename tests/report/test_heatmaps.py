"""Fusion activation heatmaps: the averaged matrices, the figures' axes and image data, the files."""

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from afuse.report.heatmaps import activation_cubes, cube_frame, figure_bytes, grid_figure, layer_figure


def activation_rows(layers: int = 6) -> pd.DataFrame:
    """Two targets; RTE with two seeds over sources [mnli, rte], CB with one seed over [mnli, cb]."""
    rows = []
    for layer in range(1, layers + 1):
        rows += [("F", "v", "rte", 1, layer, "mnli", 0.6), ("F", "v", "rte", 1, layer, "rte", 0.4)]
        rows += [("F", "v", "rte", 2, layer, "mnli", 0.8), ("F", "v", "rte", 2, layer, "rte", 0.2)]
        rows += [
            ("F", "v", "cb", 1, layer, "mnli", 0.1 * layer),
            ("F", "v", "cb", 1, layer, "cb", 1 - 0.1 * layer),
        ]
    return pd.DataFrame(rows, columns=["column", "variant", "target", "seed", "layer", "source", "weight"])


def test_cube_averages_seeds_and_leaves_absent_sources_empty():
    (cube,) = activation_cubes(activation_rows())
    assert cube.targets == ["rte", "cb"] and cube.sources == ["mnli", "rte", "cb"]  # paper order
    assert cube.weights.shape == (6, 2, 3)
    np.testing.assert_allclose(cube.weights[0, 0], [0.7, 0.3, np.nan])  # mean of seeds 1 and 2
    np.testing.assert_allclose(cube.weights[2, 1], [0.3, np.nan, 0.7])
    assert cube.seeds == {"rte": 2, "cb": 1}
    frame = cube_frame(cube)
    assert len(frame) == 6 * 2 * 3
    assert frame.query(
        "layer == 3 and target == 'cb' and source == 'cb'"
    ).mean_weight.item() == pytest.approx(0.7)


def test_layer_figure_shows_the_layer_matrix():
    (cube,) = activation_cubes(activation_rows())
    fig = layer_figure(cube, 3, "minilm", annotate=True)
    heatmap, colour_bar = fig.axes
    np.testing.assert_allclose(heatmap.images[0].get_array().filled(np.nan), cube.weights[2])
    assert [t.get_text() for t in heatmap.get_xticklabels()] == ["MNLI", "RTE", "CB"]
    assert [t.get_text() for t in heatmap.get_yticklabels()] == ["RTE (2 seeds)", "CB"]
    assert "minilm" in fig._suptitle.get_text() and "F (v)" in fig._suptitle.get_text()
    assert heatmap.images[0].get_clim() == (0.0, 1.0)  # one scale for every layer and figure
    assert len(heatmap.texts) == 4  # the four weights that exist are written in their cells


def test_grid_has_one_heatmap_per_layer_and_one_colour_bar():
    (cube,) = activation_cubes(activation_rows(layers=6))
    fig = grid_figure(cube, "minilm")
    heatmaps = [ax for ax in fig.axes if ax.images]
    assert len(heatmaps) == 6 and len(fig.axes) == 7  # 6 layers + the colour bar
    for layer, ax in enumerate(heatmaps):
        np.testing.assert_allclose(ax.images[0].get_array().filled(np.nan), cube.weights[layer])
        assert ax.get_title() == f"layer {layer + 1}"


def test_png_and_pdf_bytes_are_reproducible():
    (cube,) = activation_cubes(activation_rows(layers=2))
    fig = grid_figure(cube, "minilm")
    png = figure_bytes(fig, "png", dpi=50)
    image = imread(io.BytesIO(png))
    width, height = fig.get_size_inches()
    assert image.shape == (round(height * 50), round(width * 50), 4)
    assert figure_bytes(grid_figure(cube, "minilm"), "png", dpi=50) == png
    pdf = figure_bytes(fig, "pdf")
    assert pdf.startswith(b"%PDF") and b"CreationDate" not in pdf
    assert figure_bytes(grid_figure(cube, "minilm"), "pdf") == pdf
