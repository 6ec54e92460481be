"""Issue 8, item 3: truncated or damaged files are detected (sha256 or safetensors' own checks),
reported by path, and rebuilt (prepared data, token caches) or refused with what to run (weights,
checkpoints). Never loaded silently."""

import hashlib
import json
import shutil

import pytest
import torch
from omegaconf import OmegaConf
from safetensors.torch import load_file, save_file
from transformers import BertConfig, BertModel

from afuse.modeling import AdapterSpec, AfuseModel
from afuse.modeling.weights import CorruptWeightsError
from afuse.run_identity import fusion_variant_name, stage2_dir
from afuse.runs import is_complete, read_metrics
from tests.from_conf import tiny_bert_settings

from .harness import copy_reference_run, overrides, results, run_dir


def damage(path, how: str = "truncate") -> None:
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    else:  # flip one byte in the middle: same size, a valid header, other numbers
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :])


# -- checkpoints ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "how"),
    [("trainable.safetensors", "flip"), ("optimizer.pt", "truncate"), ("state.json", "truncate")],
)
def test_a_damaged_checkpoint_is_refused_by_path_and_force_starts_over(
    name, how, work, reference, afuse_inproc
):
    args = overrides(work, reference.raw_dir)
    run = run_dir(work)
    assert afuse_inproc("train-adapter", *args, fault="nan@12").code == 6  # keeps the epoch-1 checkpoint
    damage(run / "checkpoint" / name, how)

    refused = afuse_inproc("train-adapter", *args)
    assert refused.code == 5, refused.out
    [line] = refused.error_lines()  # one line, no traceback
    assert str(run / "checkpoint") in line and "force=true" in line
    assert "resuming" not in refused.out and "Traceback" not in refused.out
    assert (run / "checkpoint").is_dir() and not is_complete(run)  # left for the user to decide

    again = afuse_inproc("train-adapter", *args, "force=true")  # what the message says to do
    assert again.code == 0, again.out
    assert results(read_metrics(run)) == results(reference.metrics)


@pytest.mark.parametrize("change", ["shape", "name"])
def test_a_checkpoint_of_other_weights_is_refused_not_broadcast(change, work, reference, afuse_inproc):
    # A checkpoint whose files read and whose sha256 match, made for other trainable weights (an
    # older afuse's names, another model): copying a (1,)-tensor into a (32,)-parameter
    # broadcasts without an error, so it would resume silently from wrong weights.
    args = overrides(work, reference.raw_dir)
    run = run_dir(work)
    assert afuse_inproc("train-adapter", *args, fault="nan@12").code == 6  # keeps the epoch-1 checkpoint
    checkpoint = run / "checkpoint"
    params = load_file(checkpoint / "trainable.safetensors")
    first = sorted(params)[0]
    if change == "shape":
        params[first] = params[first][:1]
    else:
        params["renamed." + first] = params.pop(first)
    save_file(params, checkpoint / "trainable.safetensors")
    state = json.loads((checkpoint / "state.json").read_text())
    state["sha256"]["trainable.safetensors"] = hashlib.sha256(
        (checkpoint / "trainable.safetensors").read_bytes()
    ).hexdigest()
    (checkpoint / "state.json").write_text(json.dumps(state))

    refused = afuse_inproc("train-adapter", *args)
    assert refused.code == 5, refused.out
    [line] = refused.error_lines()
    assert str(checkpoint) in line and "force=true" in line and first in line
    assert "resuming" not in refused.out and "Traceback" not in refused.out


def test_a_checkpoint_made_on_other_data_is_not_resumed(work, reference, afuse_inproc):
    # The raw files changed between the stop and the rerun (a new copy of the dataset): the
    # task is prepared again, and resuming would finish a run half trained on other rows.
    raw = work / "raw"
    shutil.copytree(reference.raw_dir / "CB", raw / "CB")
    args = [
        *(a for a in overrides(work, reference.raw_dir) if not a.startswith("data.raw_dir=")),
        f"data.raw_dir={raw}",
    ]
    run = run_dir(work)
    assert afuse_inproc("train-adapter", *args, fault="nan@12").code == 6  # keeps the epoch-1 checkpoint
    train = raw / "CB" / "train.jsonl"
    train.chmod(0o644)
    train.write_text("".join(train.read_text().splitlines(keepends=True)[:150]))

    refused = afuse_inproc("train-adapter", *args)
    assert refused.code == 2, refused.out
    [line] = refused.error_lines()
    assert str(run / "checkpoint") in line and "made on other data" in line and "force=true" in line
    assert "resuming" not in refused.out and (run / "checkpoint").is_dir()
    assert afuse_inproc("train-adapter", *args, "force=true").code == 0


def fuse_over_reference_run(reference, work) -> list[str]:
    """The arguments of a Fusion for CB over the reference run's CB adapter, copied into `work`."""
    copy_reference_run(reference, work)
    return [
        *(a for a in overrides(work, reference.raw_dir) if not a.startswith("task=")),
        "target=cb",
        "fusion.sources=[cb]",
    ]


def retrain_source(reference, work, afuse_inproc) -> None:
    """`afuse train-adapter task=cb force=true` with another learning rate: other adapter weights."""
    retrain = [*overrides(work, reference.raw_dir), "trainer.lr=0.05", "force=true"]
    assert afuse_inproc("train-adapter", *retrain).code == 0


def refused_fuse(afuse_inproc, fuse: list[str]):
    """(result, its one error line) of an `afuse fuse` that must refuse with exit 2."""
    refused = afuse_inproc("fuse", *fuse)
    assert refused.code == 2, refused.out
    [line] = refused.error_lines()
    return refused, line


def test_a_fusion_checkpoint_made_over_other_source_adapters_is_not_resumed(work, reference, afuse_inproc):
    # The source adapter was retrained (force=true, another learning rate) between the Fusion's
    # stop and its rerun: resuming would finish a fusion half trained over other adapters.
    fuse = fuse_over_reference_run(reference, work)
    assert afuse_inproc("fuse", *fuse, fault="nan@12").code == 6  # keeps the epoch-1 checkpoint
    retrain_source(reference, work, afuse_inproc)

    refused, line = refused_fuse(afuse_inproc, fuse)
    assert "was made on other data or source adapters" in line and "force=true" in line
    assert "resuming" not in refused.out


def test_a_finished_fusion_over_a_retrained_source_adapter_is_not_skipped_as_done(
    work, reference, afuse_inproc
):
    # `afuse train-adapter task=cb force=true` after the Fusion for CB finished: a rerun of the
    # Fusion said "already complete" of a result trained over adapters that no longer exist.
    fuse = fuse_over_reference_run(reference, work)
    assert afuse_inproc("fuse", *fuse).code == 0
    assert "already complete" in afuse_inproc("fuse", *fuse).out
    retrain_source(reference, work, afuse_inproc)

    refused, line = refused_fuse(afuse_inproc, fuse)
    assert "source adapter(s) cb were retrained since" in line and "force=true" in line
    assert "already complete" not in refused.out
    assert afuse_inproc("fuse", *fuse, "force=true").code == 0
    assert "already complete" in afuse_inproc("fuse", *fuse).out


# -- stage-1 weights, loaded by a stage-2 run --------------------------------------------------


def test_fuse_refuses_a_truncated_stage1_adapter_and_says_how_to_retrain_it(work, reference, afuse_inproc):
    adapter = copy_reference_run(reference, work) / "adapter.safetensors"
    damage(adapter)
    fuse = [
        *(
            a
            for a in overrides(work, reference.raw_dir)
            if not a.startswith(("task=", "trainer.max_epochs="))
        ),
        "target=cb",
        "fusion.sources=[cb]",
        "trainer.max_epochs=1",
    ]
    refused = afuse_inproc("fuse", *fuse)
    assert refused.code == 5, refused.out
    [line] = refused.error_lines()
    assert f"{adapter} is truncated or damaged" in line
    assert "Retrain that run: afuse train-adapter model=tiny" in line and "task=cb force=true" in line

    assert afuse_inproc("train-adapter", *overrides(work, reference.raw_dir), "force=true").code == 0
    fused = afuse_inproc("fuse", *fuse)
    assert fused.code == 0, fused.out
    variant = fusion_variant_name("dynamic", "pfeiffer_rf16", ["cb"])
    assert is_complete(stage2_dir(work / "runs", "tiny", variant, "cb", 1))


# -- every weights file afuse reads ------------------------------------------------------------


def tiny_model() -> AfuseModel:
    config = BertConfig(**tiny_bert_settings())
    torch.manual_seed(0)
    model = AfuseModel(BertModel(config, add_pooling_layer=False))
    for name in ("a", "b"):
        model.add_adapter(name, AdapterSpec())
    model.add_head("a", OmegaConf.create({"name": "a", "kind": "pair", "labels": ["yes", "no"]}))
    model.add_fusion(["a", "b"])
    return model


def save_all(model: AfuseModel, folder) -> dict:
    """Each kind of weights file, as afuse (or AdapterHub's .bin flavour) writes it."""
    model.save_adapter("a", folder / "adapter")
    hub_bin = folder / "hub_bin"
    hub_bin.mkdir()
    (hub_bin / "adapter_config.json").write_bytes((folder / "adapter" / "adapter_config.json").read_bytes())
    torch.save(load_file(folder / "adapter" / "adapter.safetensors"), hub_bin / "pytorch_adapter.bin")
    return {
        "adapter": folder / "adapter" / "adapter.safetensors",
        "adapterhub_bin": hub_bin / "pytorch_adapter.bin",
        "head": model.save_head("a", folder / "head.safetensors"),
        "fusion": model.save_fusion(folder / "fusion.safetensors"),
        "encoder": model.save_encoder(folder / "encoder.safetensors"),
    }


LOADERS = {
    "adapter": lambda model, path: model.load_adapter("a", path.parent),
    "adapterhub_bin": lambda model, path: model.load_adapter("a", path.parent),
    "head": lambda model, path: model.load_head("a", path),
    "fusion": lambda model, path: model.load_fusion(path),
    "encoder": lambda model, path: model.load_encoder(path),
}


@pytest.mark.parametrize("kind", list(LOADERS))
def test_a_truncated_weights_file_is_refused_by_path(kind, tmp_path):
    files = save_all(tiny_model(), tmp_path)
    LOADERS[kind](tiny_model(), files[kind])  # intact: loads
    damage(files[kind])
    with pytest.raises(CorruptWeightsError) as refused:
        LOADERS[kind](tiny_model(), files[kind])
    assert str(files[kind]) in str(refused.value) and "force=true" in str(refused.value)


# -- data caches ---------------------------------------------------------------------------------


def test_truncated_prepared_data_and_token_cache_are_rebuilt_with_a_warning(work, reference, afuse_inproc):
    prepared = work / "data" / "prepared" / "cb" / "train.parquet"
    (cache,) = (work / "data" / "cache" / "cb").iterdir()
    damage(prepared)
    damage(cache / "train.parquet")
    rerun = afuse_inproc("train-adapter", *overrides(work, reference.raw_dir))
    assert rerun.code == 0, rerun.out
    assert f"prepared data damaged: {prepared} missing or not matching" in rerun.out
    assert f"tokenised cache is corrupt: {cache / 'train.parquet'} missing or not matching" in rerun.out
    assert results(read_metrics(run_dir(work))) == results(reference.metrics)
