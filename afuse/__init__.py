"""afuse: reproduce and extend the AdapterFusion benchmark (Pfeiffer et al., 2021).

Where things live:
  afuse/cli.py              `afuse <command>` dispatcher over Hydra entry points
  afuse/commands/           one module per command (prepare-data, train-adapter, fuse, ...)
  afuse/data/               task registry, raw-format readers, Hub loader, prepare, tokenise, collate
  afuse/modeling/           adapters, fusion layer, heads, injection into transformers encoders
  afuse/train/loop.py       the one training loop every stage uses
  afuse/runs.py             run directories, the artifact contract, skip/resume
  afuse/report/             tables, heatmaps, the paper's published numbers
"""

__version__ = "0.1.0"
