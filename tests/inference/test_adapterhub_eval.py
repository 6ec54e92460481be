"""`afuse evaluate adapterhub=<dir> task=<task>`: an AdapterHub adapter saved with its head
(AdapterHub's own files, made by the `adapters` library) scores like the same model built by hand."""

import json
import shutil

import pytest
import torch
from omegaconf import OmegaConf

from afuse.config import task_config
from afuse.data import Collator, load_tokenized
from afuse.modeling import AfuseModel, load_backbone
from afuse.paths import conf_dir
from afuse.train.loop import _loader, evaluate
from tests.conftest import REPO_ROOT
from tests.inference.conftest import afuse

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "adapterhub" / "bert"


def test_adapterhub_adapter_with_head(tmp_path, shared_data):
    adapter = tmp_path / "cb_adapter"  # AdapterHub's save_adapter(with_head=True) layout: one folder
    shutil.copytree(FIXTURES / "st", adapter)
    for file in (FIXTURES / "head_cls").iterdir():
        shutil.copy(file, adapter / file.name)
    data = ["data.source=local", f"data.raw_dir={shared_data}"]
    afuse("evaluate", f"adapterhub={adapter}", "task=cb", "model=tiny", *data,
          f"paths.data={tmp_path}/data", f"paths.logs={tmp_path}/logs", "progress_bar=false")  # fmt: skip
    result = json.loads((adapter / "eval" / "test" / "metrics.json").read_text())

    # The same model by hand, scored by the training loop's own evaluation.
    task = task_config("cb")
    encoder, tokenizer, tokenizer_id = load_backbone(OmegaConf.load(conf_dir() / "model" / "tiny.yaml"))
    model = AfuseModel(encoder, family="bert")
    model.load_adapter("cb", FIXTURES / "st")
    model.load_head("cb", FIXTURES / "head_cls", task)
    model.set_active(adapter="cb", head="cb")
    data_cfg = OmegaConf.create(
        {"source": "local", "raw_dir": str(shared_data), "max_train_examples": None, "max_test_examples": None,
         "per_task": {}, "split_seed": 42, "validation_fraction": 0.1, "validation_max_examples": 2000}
    )  # fmt: skip
    test = load_tokenized(
        task, data_cfg, OmegaConf.create({"data": str(tmp_path / "data")}), tokenizer, tokenizer_id
    )["test"]
    batches = _loader(test, Collator(tokenizer.pad_token_id), 16)
    expected = evaluate(model, batches, torch.device("cpu"), "auto", test)
    assert result["kind"] == "adapterhub" and result["n"] == expected["n"] == 56
    assert result["accuracy"] == expected["accuracy"]
    assert result["loss"] == pytest.approx(expected["loss"], abs=1e-5)
