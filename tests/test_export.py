"""`afuse export`: trained runs written as AdapterHub files reproduce the runs' logits.

The library itself reading such files with its default calls is tested on committed fixtures
(tests/modeling/test_adapterhub.py::test_library_reads_afuse_exports_with_its_default_calls);
here afuse reads the exports back through the same AdapterHub readers that match the library to
1e-5, and compares with the run's own files.
"""

import json
import shutil
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from safetensors.torch import load_file, save_file

from afuse.cli import main as afuse_main
from afuse.errors import ConfigError
from afuse.export import export_run
from afuse.modeling import AdapterSpec, AfuseModel, load_backbone
from afuse.modeling.weights import CorruptWeightsError, load_tensors, save_tensors
from afuse.run_identity import multitask_dir, stage1_dir, stage2_dir
from afuse.run_model import load_run_model
from tests.train.test_fusion_sites import common, run

pytestmark = pytest.mark.slow  # small training runs in this process


def cli(*argv: str) -> int:
    try:
        afuse_main(list(argv))
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    return 0


@pytest.fixture(scope="module")
def root(tmp_path_factory, shared_data) -> Path:
    """Houlsby adapters for cb and rte, a fusion over them (both sites) and one after the FFN
    only; an MT-A run over cb and rte and a fusion over its adapters."""
    root = tmp_path_factory.mktemp("export")
    run(root, shared_data)
    run(root, shared_data, "fusion.sites=ffn")
    args = [a for a in common(root, shared_data) if a != "adapter=houlsby"]
    assert cli("train-multitask", "tasks=[cb,rte]", *args) == 0
    assert cli("fuse", "target=cb", "adapters=mt_a", "fusion.sources=[cb,rte]", *args) == 0
    return root


def batch():
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(1000, 2000, (3, 12), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0
    mask[2, 4:] = 0
    return ids * mask, mask


def logits(model, head="h") -> torch.Tensor:
    ids, mask = batch()
    with torch.no_grad():
        return model.eval()(ids, mask)


def fresh_model(run_dir: Path) -> AfuseModel:
    cfg = OmegaConf.load(run_dir / "config.yaml")
    return AfuseModel(load_backbone(cfg.model).encoder, family=cfg.model.family)


def export(root: Path, run_dir: Path, name: str) -> tuple[int, Path]:
    out = root / "exports" / name
    return cli("export", f"run={run_dir}", f"out={out}", f"paths.logs={root}/logs"), out


def exported_fusion_model(run_dir: Path, out: Path) -> AfuseModel:
    """The same, from the export's AdapterHub directories only."""
    manifest = json.loads((out / "export.json").read_text())
    model = fresh_model(run_dir)
    if manifest["encoder"]:
        model.encoder.load_state_dict(load_file(out / manifest["encoder"] / "model.safetensors"))
    for name, path in manifest["adapters"].items():
        model.load_adapter(name, out / path)
    model.load_fusion(out / manifest["fusion"])
    model.load_head("h", out / manifest["fusion"])
    model.set_active(fusion=True, head="h")
    return model


@pytest.mark.parametrize("variant", ["dynamic_houlsby_rf16_src-c056b4_attn-ffn", "dynamic_mt_a_src-c056b4"])
def test_fusion_export_reproduces_the_run(root, variant):
    run_dir = stage2_dir(root / "runs", "tiny", variant, "cb", 1)
    code, out = export(root, run_dir, variant)
    assert code == 0
    for directory in ("cb", "rte", "fusion"):  # what the library's default calls read
        assert any(p.suffix == ".bin" for p in (out / directory).iterdir()), directory
    fusion_cfg = json.loads((out / "fusion" / "adapter_fusion_config.json").read_text())
    # fusion.sources=[cb,rte] is fused in the paper's order (afuse.run_identity.requested_sources)
    assert fusion_cfg["adapter_names"] == ["rte", "cb"] and fusion_cfg["name"] == "rte,cb"
    exported = exported_fusion_model(run_dir, out)
    assert exported.fusion.positions == (("attn", "ffn") if "houlsby" in variant else ("ffn",))
    torch.testing.assert_close(logits(exported), logits(load_run_model(run_dir)), atol=1e-6, rtol=0)
    head = json.loads((out / "fusion" / "head_config.json").read_text())
    assert head["name"] == "cb" and list(head["config"]["label2id"]) == [
        "entailment",
        "contradiction",
        "neutral",
    ]


def test_adapter_and_multitask_exports_reproduce_the_runs(root):
    adapter_run = stage1_dir(root / "runs", "tiny", "houlsby_rf16", "rte", 1)
    code, out = export(root, adapter_run, "rte")
    assert code == 0 and json.loads((out / "export.json").read_text())["encoder"] is None
    exported = fresh_model(adapter_run)
    exported.load_adapter("rte", out / "rte")
    exported.load_head("h", out / "rte")
    exported.set_active(adapter="rte", head="h")
    torch.testing.assert_close(logits(exported), logits(load_run_model(adapter_run)), atol=0, rtol=0)

    mt_run = multitask_dir(root / "runs", "tiny", "rte-cb", 1)
    code, out = export(root, mt_run, "mt_a")
    assert code == 0
    manifest = json.loads((out / "export.json").read_text())
    assert sorted(manifest["adapters"]) == ["cb", "rte"] and manifest["encoder"] == "encoder"
    exported = fresh_model(mt_run)
    exported.encoder.load_state_dict(load_file(out / "encoder" / "model.safetensors"))
    exported.load_adapter("rte", out / "rte")
    exported.load_head("h", out / "rte")
    exported.set_active(adapter="rte", head="h")
    own = load_run_model(mt_run, task="rte")
    torch.testing.assert_close(logits(exported), logits(own), atol=0, rtol=0)


def test_what_cannot_be_exported_is_refused_before_anything_is_written(root, capsys):
    def error() -> str:
        captured = capsys.readouterr()
        return captured.out + captured.err

    ffn_only = stage2_dir(root / "runs", "tiny", "dynamic_houlsby_rf16_src-c056b4", "cb", 1)
    code, out = export(root, ffn_only, "ffn_only")
    assert code == 2 and not out.exists()
    assert "fusion.sites=ffn over Houlsby adapters has no AdapterHub equivalent" in error()
    code, out = export(root, root / "runs", "not_a_run")
    said = error()
    assert code == 3 and "so it is not a run directory" in said and "afuse list runs" in said, said
    (root / "exports" / "taken").mkdir(parents=True)
    (root / "exports" / "taken" / "notes.txt").write_text("mine")
    code, out = export(root, stage1_dir(root / "runs", "tiny", "houlsby_rf16", "rte", 1), "taken")
    assert code == 2 and "is not empty" in error()
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert cli("export", f"paths.logs={root}/logs") == 2
    assert "afuse export needs run=<...>" in error()
    rte = stage1_dir(root / "runs", "tiny", "houlsby_rf16", "rte", 1)
    assert cli("export", f"run={rte}", f"paths.logs={root}/logs") == 2
    message = error()  # the example's run= is a run directory, not the export's
    assert "afuse export needs out=<...>, e.g. afuse export run=runs/stage2/" in message
    # with_encoder=false on an MT-A run: its adapters work only on its encoder, exported all the same
    mt_run = multitask_dir(root / "runs", "tiny", "rte-cb", 1)
    out = root / "exports" / "no_encoder"
    assert cli("export", f"run={mt_run}", f"out={out}", "with_encoder=false", f"paths.logs={root}/logs") == 2
    message = error()
    assert "with_encoder=false: the adapters of an MT-A run work only on the encoder it fine-tuned" in message
    assert not out.exists()
    a_file = root / "exports" / "a_file"
    a_file.write_text("mine")
    code, _ = export(root, rte, "a_file")
    message = error()
    assert code == 2 and "Traceback" not in message, message
    assert f"out={a_file} is a file; choose a new directory" in message
    assert a_file.read_text() == "mine"


def adapter_run(root: Path) -> Path:
    """A finished train-adapter run of model=tiny on cb: its files, without training."""
    from afuse.runs import write_config, write_metrics
    from tests.from_conf import compose_config
    from tests.modeling.conftest import tiny_model

    cfg = compose_config("train_adapter", ["model=tiny", "task=cb"])
    run_dir = stage1_dir(root / "runs", "tiny", "pfeiffer_rf16", "cb", 1)
    model = tiny_model()
    model.add_adapter("cb", AdapterSpec())
    model.add_head("cb", cfg.task)
    model.save_adapter("cb", run_dir)
    model.save_head("cb", run_dir / "head.safetensors")
    write_config(run_dir, cfg)
    write_metrics(run_dir, {"command": "train-adapter", "kind": "st_a", "test": {"accuracy": 0.5}})
    return run_dir


def test_an_export_that_fails_half_way_leaves_no_half_written_directory(tmp_path):
    from afuse.export import export_run

    run_dir = adapter_run(tmp_path)
    head = run_dir / "head.safetensors"
    kept = head.read_bytes()
    head.write_bytes(kept[: len(kept) // 2])  # the adapter is written before the head is found truncated
    out = tmp_path / "exports" / "cb"
    with pytest.raises(CorruptWeightsError):
        export_run(run_dir, out)
    assert not out.exists() and list((tmp_path / "exports").iterdir()) == []

    head.write_bytes(kept)
    export = export_run(run_dir, out)  # the same out= works once the cause is fixed
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["adapters"] == {"cb": "cb"} and export.adapters["cb"] == out / "cb"
    assert f'model.load_adapter("{out / "cb"}")' in manifest["load_with_adapters"]
    assert sorted(p.name for p in (out / "cb").iterdir()) == sorted(
        ["adapter_config.json", "adapter.safetensors", "pytorch_adapter.bin"]
        + ["head_config.json", "model_head.safetensors", "pytorch_model_head.bin"]
    )
    assert list((tmp_path / "exports").iterdir()) == [out]


def test_out_naming_a_file_is_refused_in_one_line(tmp_path):
    from afuse.export import export_run

    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    with pytest.raises(ConfigError, match="is a file; choose a new directory"):
        export_run(adapter_run(tmp_path), taken)
    assert taken.read_text() == "mine"


@pytest.mark.parametrize("variant", ["dynamic_houlsby_rf16_src-c056b4_attn-ffn", "dynamic_mt_a_src-c056b4"])
def test_a_fusion_whose_source_adapter_changed_since_is_not_rebuilt(root, variant, tmp_path):
    # A source retrained with force=true after the Fusion was trained: loading the Fusion over the
    # new adapter gives a model that was never trained (and an export that pairs them).
    from afuse.inference.rebuild import load_run
    from afuse.result_check import DamagedResultError

    copy = tmp_path / "copy"
    shutil.copytree(root / "runs", copy / "runs")
    run_dir = stage2_dir(copy / "runs", "tiny", variant, "cb", 1)
    folder = "mt_a/rte-cb/seed1/adapters/rte" if "mt_a" in variant else "houlsby_rf16/rte/seed1"
    adapter = copy / "runs" / "stage1" / "tiny" / folder / "adapter.safetensors"
    state = load_file(adapter)
    save_file({k: v + 0.5 for k, v in state.items()}, adapter)  # a valid file, other weights
    for rebuild in (load_run_model, load_run, lambda run: export_run(run, tmp_path / "out")):
        with pytest.raises(DamagedResultError) as refused:
            rebuild(run_dir)
        assert "rte" in str(refused.value) and "force=true" in str(refused.value)
    assert not (tmp_path / "out").exists()


def test_an_out_filled_by_another_process_meanwhile_is_left_alone(tmp_path, monkeypatch):
    from afuse import export as export_module

    out = tmp_path / "exports" / "cb"
    write = export_module._write_export

    def racing(*args, **kwargs):  # another export (or anything) writes out/ while this one works
        out.mkdir(parents=True)
        (out / "theirs.txt").write_text("theirs")
        return write(*args, **kwargs)

    monkeypatch.setattr(export_module, "_write_export", racing)
    with pytest.raises(ConfigError, match="written meanwhile"):
        export_run(adapter_run(tmp_path), out)
    assert sorted(p.name for p in out.iterdir()) == ["theirs.txt"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["cb"]


def test_a_full_disk_while_the_encoder_is_written_is_one_line(tmp_path, monkeypatch):
    # transformers' save_pretrained writes with safetensors' own writer, whose full-disk error
    # is a SafetensorError naming the OS error, not an OSError.
    from safetensors import SafetensorError
    from transformers import PreTrainedModel

    from afuse.errors import WriteError

    def full(self, directory, *args, **kwargs):
        Path(directory).mkdir(parents=True, exist_ok=True)
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(PreTrainedModel, "save_pretrained", full)
    out = tmp_path / "exports" / "cb"
    with pytest.raises(WriteError, match="No space left on device; free some space") as refused:
        export_run(adapter_run(tmp_path), out, with_encoder=True)
    assert f"cannot write {out / 'encoder'}:" in str(refused.value)
    assert list((tmp_path / "exports").iterdir()) == []


def test_a_fusion_file_over_other_sources_than_its_run_is_not_rebuilt(root, tmp_path):
    # fusion.safetensors names its sources; a file copied from another Fusion run would rebuild
    # a fusion over those, not over the run's own: refused by path.
    from afuse.inference.rebuild import load_run
    from afuse.result_check import DamagedResultError

    copy = tmp_path / "copy"
    shutil.copytree(root / "runs", copy / "runs")
    run_dir = stage2_dir(copy / "runs", "tiny", "dynamic_houlsby_rf16_src-c056b4_attn-ffn", "cb", 1)
    state, meta = load_tensors(run_dir / "fusion.safetensors")
    assert meta["sources"] == ["rte", "cb"]
    meta["sources"] = ["cb", "rte"]  # the same shapes, the sources the other way round
    save_tensors(run_dir / "fusion.safetensors", state, meta)
    for rebuild in (load_run_model, load_run, lambda run: export_run(run, tmp_path / "out")):
        with pytest.raises(DamagedResultError, match=r"fusion.safetensors is over \['cb', 'rte'\]"):
            rebuild(run_dir)


def test_the_printed_fusion_loading_code_activates_the_targets_head(tmp_path):
    """The library's set_active_adapters(Fuse(...)) activates no head (a Fuse has no head's name),
    so the printed code gave a model that returned hidden states, no logits: the target's head,
    loaded by load_adapter_fusion, must be made active by name."""
    from afuse.export import Export

    export = Export(tmp_path, "bert", "bert-base-uncased")
    export.adapters = {"rte": tmp_path / "rte", "mnli": tmp_path / "mnli"}
    export.heads = {"rte": tmp_path / "fusion"}
    export.fusion = tmp_path / "fusion"
    lines = export.loading_code().splitlines()
    assert lines[-2:] == ['model.set_active_adapters(Fuse("rte", "mnli"))', 'model.active_head = "rte"']

    export.fusion, export.heads = None, {"rte": tmp_path / "rte"}
    assert export.loading_code().splitlines()[-1] == 'model.set_active_adapters("rte")'  # same name: head too
