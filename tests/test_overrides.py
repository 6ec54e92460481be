"""Settings a command accepts but does not read are refused before Hydra runs it (afuse/overrides.py):
each was taken without a word and had no effect."""

import pytest

from afuse.errors import ConfigError
from afuse.overrides import check_overrides

PRESET_HINT = "add experiment=<preset> (`afuse list presets`) or leave it out"
NO_PRESET = "lists every run under paths.runs as it was made (these settings compose a preset's jobs), so it would be ignored"
REFUSED = [
    # without a preset, status and report list every run found, whatever the model or data settings
    ("status", ["model=minilm"], f"model=minilm: without experiment=<preset> afuse status {NO_PRESET}; {PRESET_HINT}"),
    ("status", ["data.max_train_examples=48"], f"data.max_train_examples=48: without experiment=<preset> afuse status {NO_PRESET}; {PRESET_HINT}"),
    ("status", ["logger=wandb"], f"logger=wandb: without experiment=<preset> afuse status {NO_PRESET}; {PRESET_HINT}"),
    ("report", ["trainer.lr=1"], f"trainer.lr=1: without experiment=<preset> afuse report {NO_PRESET}; {PRESET_HINT}"),
    ("report", ["model.family=roberta"], f"model.family=roberta: without experiment=<preset> afuse report {NO_PRESET}; {PRESET_HINT}"),
    # prepare-data writes untokenised splits: the model was composed and never read
    ("prepare_data", ["task=cb", "model=minilm"], "model=minilm: afuse prepare-data writes a task's splits untokenised, the same for every model, so it would be ignored; leave it out"),
    # a preset's training and sweep settings, given beside a command that trains nothing
    ("evaluate", ["run=x", "experiment=cpu_small", "trainer.max_epochs=1"], "trainer.max_epochs=1: afuse evaluate reads no trainer settings (experiment=cpu_small has them for the runs it trains), so it would be ignored; leave it out"),
    ("predict", ["run=x", "experiment=cpu_small", "experiment.seeds=[2]"], "experiment.seeds=[2]: afuse predict reads no experiment settings (experiment=cpu_small has them for the runs it trains), so it would be ignored; leave it out"),
    # a deleted setting: OmegaConf's traceback once the command read it
    ("train_adapter", ["task=cb", "~trainer.lr"], "~trainer.lr: afuse reads every setting it has (its default is in conf/), so without it the command would stop; set it instead (trainer.lr=<value>)"),
    ("evaluate", ["run=x", "~batch_size"], "~batch_size: afuse reads every setting it has (its default is in conf/), so without it the command would stop; set it instead (batch_size=<value>)"),
    # a key of one's own under a config's mapping: the hint named that mapping ("did you mean data?")
    ("train_adapter", ["task=cb", "+data.foo=1"], "unknown key data.foo (no config defines it, so it would be ignored); did you mean data.source?"),
    ("train_adapter", ["task=cb", "+trainer.max_epoch=3"], "unknown key trainer.max_epoch (no config defines it, so it would be ignored); did you mean trainer.max_epochs?"),
    # a launcher's setting without that launcher: Hydra's "Key 'n_jobs' is not in struct", exit 1
    ("train_adapter", ["task=cb", "-m", "hydra.launcher.n_jobs=2"], "hydra.launcher.n_jobs=2: the local launcher (the default) has no n_jobs setting; hydra/launcher=local_parallel has it"),
    ("run", ["experiment=cpu_small", "hydra.launcher.partition=gpu"], "hydra.launcher.partition=gpu: the local launcher (the default) has no partition setting; hydra/launcher=slurm_cpu or hydra/launcher=slurm_gpu has it"),
    ("train_adapter", ["task=cb", "hydra/launcher=local_parallel", "hydra.launcher.n_job=2"], "hydra.launcher.n_job=2: the local_parallel launcher has no n_job setting; did you mean hydra.launcher.n_jobs?"),
    # a group set to null: Hydra's ValueError traceback ("Config group override must be a string")
    ("train_adapter", ["task=null"], "task=null: a config group takes one of its options, not null: argument boolq cb cosmosqa csqa hellaswag imdb mnli mrpc qqp rte scitail sick siqa sst2 winogrande; or leave task= out"),
    ("train_adapter", ["-m", "task=rte,null"], "task=rte,null: a config group takes one of its options, not null: argument boolq cb cosmosqa csqa hellaswag imdb mnli mrpc qqp rte scitail sick siqa sst2 winogrande; or leave task= out"),
    ("status", ["experiment=null"], "experiment=null: a config group takes one of its options, not null: cpu_minilm cpu_minilm_full cpu_small gpu_check paper_table1 paper_table3 paper_table4; or leave experiment= out"),
    ("prepare_data", ["task=cb", "experiment=cpu_small", "trainer.batch_size=4"], "trainer.batch_size=4: afuse prepare-data reads no trainer settings (experiment=cpu_small has them for the runs it trains), so it would be ignored; leave it out"),
    ("prepare_data", ["experiment=cpu_small", "trainer.batch_size=4"], "trainer.batch_size=4: afuse prepare-data reads no trainer settings (experiment=cpu_small has them for the runs it trains), so it would be ignored; leave it out"),
    ("prepare_data", ["task=cb", "experiment=cpu_small", "experiment.tasks=[rte]"], "experiment.tasks=[rte]: afuse prepare-data reads no experiment settings (experiment=cpu_small has them for the runs it trains), so it would be ignored; leave it out"),
]  # fmt: skip
ACCEPTED = [
    ("status", ["experiment=cpu_small", "model=minilm", "data.max_train_examples=48", "trainer.lr=1e-3", "logger=none"]),
    ("report", ["experiment=cpu_small", "data.max_train_examples=48", "trainer.max_epochs=2"]),
    ("report", ["logger=none", "report.heatmaps=false"]),  # the report itself is logged with logger=
    ("prepare_data", ["task=cb", "experiment=cpu_small", "data.max_train_examples=10"]),  # the preset's data
    # without task=: everything the preset's jobs read, their model and tasks included
    ("prepare_data", ["experiment=cpu_small", "model=tiny", "experiment.tasks=[rte]", "data.split_seed=3"]),
    ("evaluate", ["run=x", "experiment=cpu_small", "data.max_test_examples=5", "batch_size=8"]),
    ("run", ["experiment=cpu_small", "trainer.max_epochs=1", "model=tiny"]),  # passed on to its jobs
    ("run", ["experiment=cpu_small", "hydra/launcher=slurm_gpu", "hydra.launcher.partition=gpu", "hydra.launcher.setup=[a]"]),
    ("train_adapter", ["task=cb", "hydra/launcher=local_parallel", "hydra.launcher.n_jobs=2"]),
    ("train_adapter", ["task=cb", "experiment=cpu_small", "~data.per_task.cb"]),  # a preset's entry goes
]  # fmt: skip


@pytest.mark.parametrize(("config", "args", "message"), REFUSED, ids=[" ".join(a) for _, a, _ in REFUSED])
def test_an_unread_setting_is_refused_naming_it(config, args, message):
    with pytest.raises(ConfigError) as error:
        check_overrides(config, args)
    assert str(error.value) == message


@pytest.mark.parametrize(("config", "args"), ACCEPTED, ids=[" ".join(a) for _, a in ACCEPTED])
def test_settings_that_are_read_pass(config, args):
    check_overrides(config, args)
