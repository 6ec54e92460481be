"""Issue 8, item 7: hostile or wrong inputs are refused with a message, before they can do harm.

- weights from strangers: safetensors, or `.bin` through weights_only unpickling; a pickle that
  would run code is refused and its code never runs;
- the IMDB tarball: members are read, never extracted; `../` and absolute names and links are
  left out with a message;
- config values: checked before any work, with messages that name the key;
- label sets: a head loaded for a task must predict that task's labels.
"""

import hashlib
import io
import json
import tarfile

import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf
from transformers import BertConfig, BertModel

from afuse.data.schema import SPLITS
from afuse.errors import ConfigError, CorruptCheckpointError
from afuse.modeling import AdapterSpec, AfuseModel
from afuse.paths import conf_dir
from afuse.train.checkpoint import LoopState, load_checkpoint, save_checkpoint
from tests.from_conf import tiny_bert_settings

from .harness import copy_reference_run, overrides


class CreatesFile:
    """Unpickling this calls open(path, "w"): it creates a file, as any code in a pickle could."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def evil_bin(path, marker) -> None:
    torch.save({"weight": torch.zeros(2), "payload": CreatesFile(marker)}, path)


# -- weights from strangers --------------------------------------------------------------------


def test_fuse_refuses_a_downloaded_adapter_whose_pickle_runs_code(work, reference, afuse_inproc, tmp_path):
    copy_reference_run(reference, work)  # the stage-1 cb adapter, to fuse with the downloaded one
    downloaded = tmp_path / "downloaded" / "sentiment"
    downloaded.mkdir(parents=True)
    config = json.loads((reference.run / "adapter_config.json").read_text())
    (downloaded / "adapter_config.json").write_text(json.dumps(config))
    marker = tmp_path / "pwned"
    evil_bin(downloaded / "pytorch_adapter.bin", marker)

    fuse = [
        *(
            a
            for a in overrides(work, reference.raw_dir)
            if not a.startswith(("task=", "trainer.max_epochs="))
        ),
        "target=cb",
        f"fusion.sources=[cb,{downloaded}]",
        "trainer.max_epochs=1",
    ]
    refused = afuse_inproc("fuse", *fuse)
    assert not marker.exists(), "the pickle's code ran"
    assert refused.code == 2, refused.out
    [line] = refused.error_lines()
    assert f"{downloaded / 'pytorch_adapter.bin'}: refused to unpickle it" in line
    assert "Unsupported global" in line and "safetensors" in line


def tiny_model() -> AfuseModel:
    config = BertConfig(**tiny_bert_settings(hidden_size=16))  # 16: the bottleneck test below
    model = AfuseModel(BertModel(config, add_pooling_layer=False))
    for name in ("a", "b"):
        model.add_adapter(name, AdapterSpec())
    return model


def test_adapterhub_head_and_fusion_pickles_that_run_code_are_refused(tmp_path):
    model, marker = tiny_model(), tmp_path / "pwned"
    model.add_head("a", OmegaConf.create({"name": "a", "kind": "pair", "labels": ["yes", "no"]}))
    model.add_fusion(["a", "b"])
    head, fusion = model.save_head("a", tmp_path / "head"), tmp_path / "fusion"
    fusion.mkdir()
    (fusion / "adapter_fusion_config.json").write_text(
        json.dumps({"config": {"query": True, "key": True, "value": True}, "adapter_names": ["a", "b"]})
    )
    (head / "model_head.safetensors").unlink()
    evil_bin(head / "pytorch_model_head.bin", marker)
    evil_bin(fusion / "pytorch_model_adapter_fusion.bin", marker)
    with pytest.raises(ConfigError, match="pytorch_model_head.bin: refused to unpickle"):
        model.load_head("a", head)
    with pytest.raises(ConfigError, match="pytorch_model_adapter_fusion.bin: refused to unpickle"):
        model.load_fusion(fusion)
    assert not marker.exists()


def test_a_checkpoint_whose_optimizer_pickle_runs_code_is_refused(tmp_path):
    """Someone else's run directory: the recorded checksum matches, the pickle is still refused."""
    params = {"w": torch.ones(2)}
    checkpoint = save_checkpoint(tmp_path, LoopState(), params, params, {"step": 1})
    marker = tmp_path / "pwned"
    evil_bin(checkpoint / "optimizer.pt", marker)
    state = json.loads((checkpoint / "state.json").read_text())
    state["sha256"]["optimizer.pt"] = hashlib.sha256((checkpoint / "optimizer.pt").read_bytes()).hexdigest()
    (checkpoint / "state.json").write_text(json.dumps(state))
    with pytest.raises(CorruptCheckpointError, match="optimizer.pt"):
        load_checkpoint(checkpoint)
    assert not marker.exists()


# -- tarballs ------------------------------------------------------------------------------------


def add_member(archive: tarfile.TarFile, name: str, text: str = "", link: str | None = None) -> None:
    info = tarfile.TarInfo(name)
    if link is not None:
        info.type, info.linkname = tarfile.SYMTYPE, link
        archive.addfile(info)
        return
    data = text.encode()
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def imdb_tarball(raw_dir) -> None:
    """IMDB/aclImdb_labeled.tar.gz: 24 ordinary reviews and three hostile members."""
    (raw_dir / "IMDB").mkdir(parents=True)
    with tarfile.open(raw_dir / "IMDB" / "aclImdb_labeled.tar.gz", "w:gz") as archive:
        for i in range(24):
            split, label = ("train" if i < 20 else "test"), ("pos" if i % 2 else "neg")
            add_member(archive, f"aclImdb/{split}/{label}/{i}_{8 if i % 2 else 2}.txt", f"review {i}")
        add_member(archive, "../evil/train/pos/90_9.txt", "EVIL relative")
        add_member(archive, "/tmp/evil/train/neg/91_1.txt", "EVIL absolute")
        add_member(archive, "aclImdb/train/pos/92_9.txt", link="/etc/passwd")


def test_imdb_tarball_members_outside_the_archive_are_left_out_with_a_message(tmp_path, afuse_inproc):
    raw = tmp_path / "raw"
    imdb_tarball(raw)
    paths = [f"paths.data={tmp_path}/data", f"paths.logs={tmp_path}/logs"]
    # 3 hostile members of 27: above the default 1% malformed limit, which would stop here
    limit = "data.max_malformed_fraction=0.2"
    prepared = afuse_inproc(
        "prepare-data", "task=imdb", "data.source=local", f"data.raw_dir={raw}", limit, *paths
    )
    assert prepared.code == 0, prepared.out
    assert "3 malformed row(s) in IMDB/aclImdb_labeled.tar.gz left out" in prepared.out
    manifest = json.loads((tmp_path / "data" / "prepared" / "imdb" / "manifest.json").read_text())
    reasons = {
        e["position"]: e["reason"]
        for e in manifest["malformed"]["files"]["IMDB/aclImdb_labeled.tar.gz"]["examples"]
    }
    assert "unsafe member name" in reasons["../evil/train/pos/90_9.txt"]
    assert "unsafe member name" in reasons["/tmp/evil/train/neg/91_1.txt"]
    assert "not a regular file" in reasons["aclImdb/train/pos/92_9.txt"]
    splits = [pd.read_parquet(tmp_path / "data" / "prepared" / "imdb" / f"{s}.parquet") for s in SPLITS]
    texts = " ".join(text for frame in splits for text in frame.text_a)
    assert "EVIL" not in texts and "root:" not in texts and "review 0" in texts
    assert not (tmp_path / "evil").exists() and not (tmp_path.parent / "evil").exists()


# -- config values -------------------------------------------------------------------------------

TRAIN = ["train-adapter", "task=cb", "model=tiny"]
FUSE = ["fuse", "target=cb", "model=tiny"]
INVALID = [
    (TRAIN, "adapter.reduction_factor=-2", "adapter.reduction_factor must be > 0 (got -2); e.g. adapter.reduction_factor=16"),
    (TRAIN, "adapter.reduction_factor=64", "adapter.reduction_factor=64 leaves a bottleneck of 32/64 < 1 unit"),
    (TRAIN, "trainer.lr=0", "trainer.lr must be > 0 (got 0); e.g. trainer.lr=0.0001"),
    (TRAIN, "trainer.batch_size=0", "trainer.batch_size must be an integer >= 1 (got 0); e.g. trainer.batch_size=32"),
    (TRAIN, "seed=abc", "seed must be an integer >= 0 (got 'abc'); e.g. seed=1"),
    (TRAIN, "data.max_train_examples=0", "data.max_train_examples must be an integer >= 1 or null (got 0)"),
    (FUSE, "fusion.regularization=-0.1", "fusion.regularization must be >= 0 (got -0.1); e.g. fusion.regularization=0.01"),
    (FUSE, "fusion.sites=attn", "fusion.sites must be all or ffn (got 'attn'); e.g. fusion.sites=all"),
    (FUSE, "fusion.sources=rte", "fusion.sources must be a non-empty list of task names or adapter directories (or null: the 16 tasks) (got 'rte')"),
    (FUSE, "fusion.sources=[rte,nosuchtask]", "fusion.sources entry 'nosuchtask' is neither a task"),
    (["finetune", "task=cb", "mode=head"], "trainer.max_epochs=0", "trainer.max_epochs must be an integer >= 1 (got 0)"),
]  # fmt: skip


@pytest.mark.parametrize(("command", "bad", "message"), INVALID, ids=[bad for _, bad, _ in INVALID])
def test_invalid_config_values_are_refused_before_any_work(command, bad, message, tmp_path, afuse_inproc):
    paths = [f"paths.{p}={tmp_path}/{p}" for p in ("runs", "data", "logs")]
    refused = afuse_inproc(*command, bad, "data.source=local", "data.raw_dir=/nonexistent", *paths)
    assert refused.code == 2, refused.out
    [line] = refused.error_lines()
    assert message in line
    assert not (tmp_path / "runs").exists() and not (tmp_path / "data").exists()  # no work was done


def test_a_bottleneck_under_one_unit_is_refused_for_pretrained_models_too():
    """Their hidden size is known only once the model is loaded: checked where adapters are made."""
    with pytest.raises(ConfigError, match="adapter.reduction_factor=32 leaves a bottleneck of 16/32 < 1"):
        tiny_model().add_adapter("c", AdapterSpec("pfeiffer", 32))


# -- label sets ----------------------------------------------------------------------------------


def task_config(name: str):
    return OmegaConf.load(conf_dir() / "task" / f"{name}.yaml")


def test_a_head_is_refused_for_a_task_with_other_labels(reference, tmp_path):
    model = AfuseModel(BertModel(BertConfig(**tiny_bert_settings()), add_pooling_layer=False))
    # The stage-1 cb run's head predicts CB's 3 labels; RTE has 2.
    with pytest.raises(ConfigError, match=r"head predicts 3 labels, task rte has 2"):
        model.load_head("rte", reference.run / "head.safetensors", task_cfg=task_config("rte"))
    model.load_head("cb", reference.run / "head.safetensors", task_cfg=task_config("cb"))
    # An AdapterHub head with CB's labels in another order: label i must be class i.
    head = model.save_head("cb", tmp_path / "hub_head", labels=["neutral", "entailment", "contradiction"])
    with pytest.raises(ConfigError, match=r"head labels \['neutral', 'entailment', 'contradiction'\] differ"):
        model.load_head("cb", head, task_cfg=task_config("cb"))
