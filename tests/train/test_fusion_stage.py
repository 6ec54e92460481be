"""Stage 2's loading of its sources: an adapter file whose weights do not fit its own config (mixed
files of two runs, another reduction factor) says which command writes it again."""

import pytest
import torch

from afuse.errors import ConfigError
from afuse.fusion_sources import Source
from afuse.modeling import AdapterSpec
from afuse.run_identity import source_run_dir
from afuse.train.fusion_stage import _retrain_hint
from tests.from_conf import compose_config
from tests.modeling.conftest import tiny_model


def test_a_source_adapter_whose_weights_do_not_fit_names_its_retrain_command(tmp_path):
    cfg = compose_config(
        "fuse", ["model=tiny", "target=cb", "fusion.sources=[cb,rte]", f"paths.runs={tmp_path}"]
    )
    run_dir = source_run_dir(cfg, "rte")
    model = tiny_model()
    model.add_adapter("rte", AdapterSpec(reduction_factor=8))
    model.save_adapter("rte", run_dir)
    other = tiny_model()
    other.add_adapter("rte", AdapterSpec(reduction_factor=16))
    other.save_adapter("rte", tmp_path / "other")
    (run_dir / "adapter_config.json").write_bytes((tmp_path / "other" / "adapter_config.json").read_bytes())
    with pytest.raises(ConfigError) as refused, _retrain_hint(cfg, Source("rte", run_dir)):
        torch.manual_seed(0)
        tiny_model().load_adapter("rte", run_dir)
    message = str(refused.value)
    assert "weights do not fit" in message and "wrong shapes" in message
    assert "Retrain that run: afuse train-adapter" in message and "task=rte force=true" in message


def test_a_source_run_without_its_adapter_files_names_its_retrain_command(tmp_path):
    from afuse.errors import MissingInputError

    cfg = compose_config(
        "fuse", ["model=tiny", "target=cb", "fusion.sources=[cb,rte]", f"paths.runs={tmp_path}"]
    )
    run_dir = source_run_dir(cfg, "rte")
    run_dir.mkdir(parents=True)  # metrics.json and config.yaml only: the adapter files were removed
    with pytest.raises(MissingInputError) as refused, _retrain_hint(cfg, Source("rte", run_dir)):
        tiny_model().load_adapter("rte", run_dir)
    assert "Retrain that run: afuse train-adapter" in str(refused.value)
