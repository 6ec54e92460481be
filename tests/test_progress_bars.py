"""afuse/progress_bars.py: the libraries' bars follow afuse's progress_bar setting."""

import pytest
from omegaconf import OmegaConf
from transformers.utils import logging as transformers_logging

from afuse.progress_bars import follow_progress_setting


@pytest.fixture
def library_bars(monkeypatch):
    """The libraries' bar switches as they were, restored afterwards."""
    import datasets
    from huggingface_hub.utils import are_progress_bars_disabled, enable_progress_bars

    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    monkeypatch.delenv("HF_DATASETS_DISABLE_PROGRESS_BARS", raising=False)
    before = (
        transformers_logging.is_progress_bar_enabled(),
        are_progress_bars_disabled(),
        datasets.is_progress_bar_enabled(),
    )
    transformers_logging.enable_progress_bar()
    enable_progress_bars()
    datasets.enable_progress_bars()
    yield
    (transformers_logging.enable_progress_bar if before[0] else transformers_logging.disable_progress_bar)()
    if not before[1]:
        enable_progress_bars()
    (datasets.enable_progress_bars if before[2] else datasets.disable_progress_bars)()


@pytest.mark.parametrize(
    "values", [{"trainer": {"progress_bar": "auto"}}, {"progress_bar": False}, {"task": {"name": "rte"}}]
)
def test_a_hidden_afuse_bar_hides_the_libraries_bars(values, library_bars):
    """make demo's log (stderr not a terminal, progress_bar=auto) held a "Loading weights" bar
    at every model load, though afuse's own bars were hidden there; a SLURM job's log held
    datasets' "Generating train split" bars, and so did prepare-data's (which has no setting)."""
    import datasets
    from huggingface_hub.utils import are_progress_bars_disabled

    follow_progress_setting(OmegaConf.create(values))  # pytest's stderr is not a terminal
    assert not transformers_logging.is_progress_bar_enabled()
    assert are_progress_bars_disabled() and not datasets.is_progress_bar_enabled()


def test_a_shown_afuse_bar_leaves_the_libraries_bars(library_bars):
    follow_progress_setting(OmegaConf.create({"trainer": {"progress_bar": True}}))
    assert transformers_logging.is_progress_bar_enabled()
