"""Where one source adapter ranks among a Fusion's sources, per target and layer.

    python experiments/source_rank.py results/cpu_minilm/heatmaps/<variant>/activations.csv \
        --source mnli --targets rte cb sick

Reads the report's activations.csv (layer, target, source, mean_weight over seeds[, site]) and
prints a Markdown table: for each target, the source's rank (1 = most attended) and mean weight
in every layer, beside the uniform weight 1/N. The paper's Figure 4 has MNLI attracting the NLI
targets; this is the table that says whether it does here.

    python experiments/source_rank.py <activations.csv> --top 3 --layer 3

prints instead the 3 most attended sources of each target at layer 3, with their weights.
"""

import argparse
from pathlib import Path

import pandas as pd


def source_ranks(activations: pd.DataFrame, source: str, targets: list[str] | None = None) -> pd.DataFrame:
    """One row per (target, layer[, site]): the source's rank, its weight, and N."""
    keys = ["target", "layer"] + (["site"] if "site" in activations.columns else [])
    frame = activations if not targets else activations[activations.target.isin(targets)]
    if source not in set(frame.source):
        raise SystemExit(
            f"source {source!r} is not among the fused sources: {' '.join(sorted(set(frame.source)))}"
        )
    ranked = frame.assign(
        rank=frame.groupby(keys).mean_weight.rank(ascending=False, method="min").astype(int)
    )
    count = frame.groupby(keys).source.count().rename("sources")
    rows = ranked[ranked.source == source].set_index(keys)[["rank", "mean_weight"]].join(count)
    return rows.reset_index()


def markdown(ranks: pd.DataFrame, source: str) -> str:
    layers = sorted(ranks.layer.unique())
    header = "| target | " + " | ".join(f"layer {layer}" for layer in layers) + " |"
    lines = [header, "| :-- |" + " --: |" * len(layers)]
    for target, rows in ranks.groupby("target", sort=False):
        by_layer = rows.set_index("layer")
        cells = [
            f"{by_layer.at[layer, 'rank']}/{by_layer.at[layer, 'sources']} ({by_layer.at[layer, 'mean_weight']:.3f})"
            for layer in layers
        ]
        lines.append(f"| {target} | " + " | ".join(cells) + " |")
    uniform = 1 / ranks.sources.iloc[0]
    return (
        "\n".join(lines)
        + f"\n\nCells: {source}'s rank / sources (mean weight); uniform weight {uniform:.3f}."
    )


def top_sources(activations: pd.DataFrame, layer: int, k: int, targets: list[str] | None = None) -> str:
    """Markdown: the k most attended sources of each target at `layer` (both sites summed if any)."""
    frame = activations[activations.layer == layer]
    if frame.empty:
        raise SystemExit(f"no layer {layer}; layers: {' '.join(map(str, sorted(set(activations.layer))))}")
    weights = frame.groupby(["target", "source"], sort=False).mean_weight.sum().reset_index()
    order = targets or list(dict.fromkeys(weights.target))
    ordinals = ["1st", "2nd", "3rd"] + [f"{i}th" for i in range(4, k + 1)]
    lines = ["| target | " + " | ".join(ordinals[:k]) + " |", "| :-- |" + " :-- |" * k]
    for target in order:
        best = weights[weights.target == target].nlargest(k, "mean_weight")
        cells = [f"{row.source} {row.mean_weight:.3f}" for row in best.itertuples()]
        lines.append(f"| {target} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("activations", type=Path, help="a report's heatmaps/<variant>/activations.csv")
    parser.add_argument("--source", default="mnli")
    parser.add_argument("--targets", nargs="*", help="default: every target in the file")
    parser.add_argument("--top", type=int, help="print each target's TOP most attended sources at --layer")
    parser.add_argument("--layer", type=int, help="the layer for --top")
    args = parser.parse_args()
    if not args.activations.is_file():
        raise SystemExit(f"{args.activations}: no such file; run `afuse report experiment=<name>` first")
    frame = pd.read_csv(args.activations)
    if args.top:
        if args.layer is None:
            raise SystemExit("--top needs --layer <n>")
        print(top_sources(frame, args.layer, args.top, args.targets))
        return
    print(markdown(source_ranks(frame, args.source, args.targets), args.source))


if __name__ == "__main__":
    main()
