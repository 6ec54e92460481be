"""experiments/source_rank.py: a source's rank among a Fusion's sources, per target and layer."""

import pandas as pd

from experiments.source_rank import markdown, source_ranks, top_sources


def frame(rows):
    return pd.DataFrame(rows, columns=["layer", "target", "source", "mean_weight", "seeds"])


def test_rank_is_by_weight_within_each_target_and_layer():
    activations = frame(
        [
            (1, "rte", "mnli", 0.2, 3), (1, "rte", "qqp", 0.5, 3), (1, "rte", "cb", 0.3, 3),
            (2, "rte", "mnli", 0.6, 3), (2, "rte", "qqp", 0.1, 3), (2, "rte", "cb", 0.3, 3),
            (1, "cb", "mnli", 0.3, 3), (1, "cb", "qqp", 0.3, 3), (1, "cb", "cb", 0.4, 3),
        ]
    )  # fmt: skip
    ranks = source_ranks(activations, "mnli").set_index(["target", "layer"])
    assert ranks.loc[("rte", 1), "rank"] == 3 and ranks.loc[("rte", 2), "rank"] == 1
    assert ranks.loc[("cb", 1), "rank"] == 2  # a tie shares the better rank
    assert set(ranks.sources) == {3}
    assert "| rte | 3/3 (0.200) | 1/3 (0.600) |" in markdown(
        source_ranks(activations, "mnli", ["rte"]), "mnli"
    )


def test_top_sources_lists_each_targets_most_attended_sources_at_a_layer():
    activations = frame(
        [
            (1, "rte", "mnli", 0.2, 3), (1, "rte", "qqp", 0.5, 3), (1, "rte", "cb", 0.3, 3),
            (2, "rte", "mnli", 0.6, 3), (2, "rte", "qqp", 0.1, 3), (2, "rte", "cb", 0.3, 3),
            (2, "cb", "mnli", 0.1, 3), (2, "cb", "qqp", 0.2, 3), (2, "cb", "cb", 0.7, 3),
        ]
    )  # fmt: skip
    table = top_sources(activations, layer=2, k=2).splitlines()
    assert table[0] == "| target | 1st | 2nd |"
    assert table[2:] == ["| rte | mnli 0.600 | cb 0.300 |", "| cb | cb 0.700 | qqp 0.200 |"]
