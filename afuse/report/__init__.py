"""The paper's outputs from finished runs: tables (md/csv/tex), paper numbers beside ours, heatmaps.

layout.py     which job groups make which table column (experiment.report)
collect.py    accuracies and Fusion activations read from run directories
tables.py     Table 1 layout, ours vs the paper, Table 2 arrows
paper.py      the paper's published numbers (paper_numbers.yaml)
heatmaps.py   per-layer and grid heatmaps of Fusion activations
formats.py    Markdown / LaTeX / CSV text
build.py      `afuse report`: all of the above into results/<experiment>/
tracking.py   optional Weights & Biases logging
callback.py   the Hydra callback that reports at the end of a multirun
"""
