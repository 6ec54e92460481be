"""Full fine-tuning with `save_encoder=true`: the run's encoder and head, loaded back, give the
run's own test accuracy; without the flag no encoder file is written."""

import pytest
import torch
from omegaconf import OmegaConf

from afuse.cli import main as afuse_main
from afuse.modeling import AfuseModel, load_backbone
from afuse.run_identity import stage1_dir
from afuse.runs import read_metrics
from afuse.train.single_task import build_data
from tests.reliability.harness import overrides


def finetune_full(root, shared_data, *extra):
    args = ["finetune", *overrides(root, shared_data, "mode=full", *extra)]  # tiny BERT, 64 CB examples
    try:
        afuse_main(args)
    except SystemExit as exit_:
        pytest.fail(f"afuse finetune exited with {exit_.code}")
    return stage1_dir(root / "runs", "tiny", "full", "cb", 1)


def test_saved_encoder_and_head_reproduce_the_test_accuracy(tmp_path, shared_data):
    run = finetune_full(tmp_path, shared_data, "save_encoder=true")
    cfg = OmegaConf.load(run / "config.yaml")
    encoder, tokenizer, tokenizer_id = load_backbone(cfg.model)
    pretrained = {k: v.clone() for k, v in encoder.state_dict().items()}
    model = AfuseModel(encoder, family="bert")
    model.load_encoder(run / "encoder.safetensors")
    model.load_head("cb", run / "head.safetensors", cfg.task)
    model.set_active(adapter=None, head="cb")
    assert any(not torch.equal(pretrained[k], v) for k, v in encoder.state_dict().items())

    test = build_data(cfg, tokenizer, tokenizer_id).evaluate(model, "test", torch.device("cpu"))
    expected = read_metrics(run)["test"]
    assert test["accuracy"] == expected["accuracy"]
    assert test["loss"] == pytest.approx(expected["loss"], rel=1e-6)


def test_no_encoder_file_by_default(tmp_path, shared_data):
    run = finetune_full(tmp_path, shared_data)
    assert (run / "metrics.json").is_file() and (run / "head.safetensors").is_file()
    assert not (run / "encoder.safetensors").exists()
