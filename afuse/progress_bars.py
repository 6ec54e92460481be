"""Whether progress bars are drawn: afuse's own and those of the libraries it calls.

    bar_enabled(setting)               # progress_bar / trainer.progress_bar: auto | true | false
    follow_progress_setting(cfg)       # transformers' and datasets' bars follow that setting

A redrawn bar is noise in a log file (SLURM, multirun, a pipe): there `auto` hides afuse's bars
(the training loop logs a line every `log_every_steps` instead), and transformers' "Loading
weights" bar, drawn at every model load, went on filling those logs, as did datasets' "Generating
train split" bars each time a job read a task from the Hub. A command without the setting
(prepare-data, export) follows `auto`.
"""

import os
import sys

from omegaconf import DictConfig, OmegaConf


def bar_enabled(setting) -> bool:
    """progress_bar: auto (a bar on a terminal, none in a log file) | true | false."""
    return sys.stderr.isatty() if str(setting) == "auto" else bool(setting)


def follow_progress_setting(cfg: DictConfig) -> None:
    """Hide the libraries' bars where the command's progress_bar setting hides afuse's."""
    setting = OmegaConf.select(cfg, "trainer.progress_bar", default=None)
    if setting is None:
        setting = OmegaConf.select(cfg, "progress_bar", default=None)  # evaluate, predict
    if bar_enabled("auto" if setting is None else setting):
        return
    # Read by huggingface_hub (and through it transformers) and by datasets when they are imported.
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"
    if "datasets" in sys.modules:
        import datasets

        datasets.disable_progress_bars()
    if "transformers" in sys.modules:  # imported already (in-process callers): switch it off there
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
