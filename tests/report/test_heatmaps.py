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
    frame = pd.DataFrame(rows, columns=["column", "variant", "target", "seed", "layer", "source", "weight"])
    return frame.assign(site="ffn")


def two_site_rows(layers: int = 2) -> pd.DataFrame:
    """The same fusion recorded after attention too (Houlsby sources), with other weights there."""
    ffn = activation_rows(layers)
    attn = ffn.assign(site="attn", weight=1 - ffn.weight)
    return pd.concat([ffn, attn], ignore_index=True)


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


def test_a_target_short_of_its_seeds_says_so_in_its_row_label():
    """A 3-seed preset whose CB Fusion finished one seed drew CB's row unlabelled, as if complete."""
    from dataclasses import replace

    (cube,) = activation_cubes(activation_rows())
    cube = replace(cube, expected={"rte": 2, "cb": 3})
    for fig in (layer_figure(cube, 1, "minilm", annotate=False), grid_figure(cube, "minilm")):
        labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
        assert labels == ["RTE (2 seeds)", "CB (1 of 3 seeds)"]


def test_grid_has_one_heatmap_per_layer_and_one_colour_bar():
    (cube,) = activation_cubes(activation_rows(layers=6))
    fig = grid_figure(cube, "minilm")
    heatmaps = [ax for ax in fig.axes if ax.images]
    assert len(heatmaps) == 6 and len(fig.axes) == 7  # 6 layers + the colour bar
    for layer, ax in enumerate(heatmaps):
        np.testing.assert_allclose(ax.images[0].get_array().filled(np.nan), cube.weights[layer])
        assert ax.get_title() == f"layer {layer + 1}"


def test_two_sites_are_two_row_blocks_attention_first():
    (cube,) = activation_cubes(two_site_rows(layers=2))
    assert cube.sites == ("attn", "ffn") and cube.rows[:2] == [("attn", "rte"), ("attn", "cb")]
    assert cube.weights.shape == (2, 4, 3)
    np.testing.assert_allclose(cube.weights[0, 0], [0.3, 0.7, np.nan])  # attention block, RTE
    np.testing.assert_allclose(cube.weights[0, 2], [0.7, 0.3, np.nan])  # FFN block, RTE
    labels = [t.get_text() for t in layer_figure(cube, 1, "m", annotate=False).axes[0].get_yticklabels()]
    assert labels == [
        "RTE (2 seeds) · after attention",
        "CB · after attention",
        "RTE (2 seeds) · after FFN",
        "CB · after FFN",
    ]
    frame = cube_frame(cube)
    assert list(frame.columns[:3]) == ["layer", "site", "target"] and len(frame) == 2 * 2 * 2 * 3
    assert frame.query(
        "site == 'attn' and layer == 2 and target == 'cb' and source == 'cb'"
    ).mean_weight.item() == pytest.approx(0.2)  # 1 - the FFN site's 0.8
    # One site: no site column and no site in the labels (the files of FFN-only runs are unchanged).
    (single,) = activation_cubes(activation_rows(layers=2))
    assert "site" not in cube_frame(single).columns


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


def test_activations_json_of_a_two_site_fusion_is_read_per_site(tmp_path):
    import json

    from afuse.report.collect import _activation_cells

    path = tmp_path / "activations.json"
    ffn, attn = [[0.6, 0.4], [0.5, 0.5]], [[0.9, 0.1], [0.2, 0.8]]
    path.write_text(
        json.dumps({"sources": ["rte", "cb"], "matrix": ffn, "sites": {"attn": attn, "ffn": ffn}})
    )
    cells = list(_activation_cells(path))
    assert ("attn", 2, "cb", 0.8) in cells and ("ffn", 1, "rte", 0.6) in cells and len(cells) == 8
    path.write_text(json.dumps({"sources": ["rte", "cb"], "matrix": ffn}))  # one site, as before
    assert {site for site, *_ in _activation_cells(path)} == {"ffn"}


@pytest.mark.parametrize("figure", ["grid", "layer"])
def test_a_long_title_over_a_small_grid_stays_inside_the_figure(figure):
    # A report without a preset names a column after its run folder; over a 2-layer model's grid
    # the title ran off both sides of the figure ("ations · tiny · tiny/dynamic_pfeiffer_rf16_").
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    frame = activation_rows(layers=2)
    frame["column"] = "tiny/dynamic_houlsby_rf16_src-8a834c_skiplast_attn-ffn"
    frame["variant"] = "dynamic_houlsby_rf16_src-8a834c_skiplast_attn-ffn"
    (cube,) = activation_cubes(frame)
    fig = grid_figure(cube, "tiny") if figure == "grid" else layer_figure(cube, 1, "tiny", annotate=False)
    renderer = FigureCanvasAgg(fig).get_renderer()
    title = fig._suptitle.get_window_extent(renderer)
    assert title.x0 >= 0 and title.x1 <= fig.bbox.width, (title, fig.bbox)
    for ax in fig.axes:  # the plots moved with it: nothing drawn off the figure either
        box = ax.get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= fig.bbox.width
