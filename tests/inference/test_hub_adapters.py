"""Adapters by Hugging Face Hub id (`AdapterHub/bert-base-uncased-pf-rte`), as the `adapters`
library takes them: fused and evaluated exactly as the same files in a directory. The Hub is
replaced by its local cache, laid out as huggingface_hub writes it, with the network off."""

import json
import shutil
from pathlib import Path

import pytest
from huggingface_hub import constants

from afuse.cli import main as afuse_main
from afuse.runs import read_metrics
from tests.inference.conftest import afuse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> Path:
    """An empty Hub cache, offline: snapshot_download answers from it only."""
    cache = tmp_path / "hf-cache"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def publish(cache: Path, repo_id: str, files: list[Path]) -> None:
    """`files` as the cached snapshot of `repo_id` (what a download on a machine online leaves)."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    for file in files:
        shutil.copy(file, snapshot / file.name)


def args_in(run_tree, runs: Path, *extra: str) -> list[str]:
    """The tree's training arguments with the runs under `runs` instead (its own stay as they are)."""
    return [a for a in run_tree.args(*extra) if not a.startswith("paths.runs=")] + [f"paths.runs={runs}"]


def adapter_files(run: Path) -> list[Path]:
    return [run / "adapter_config.json", run / "adapter.safetensors"]


def test_a_hub_adapter_is_fused_exactly_as_the_same_files_in_a_directory(
    run_tree, tmp_path, hub_cache, capsys
):
    rte = run_tree.runs / "stage1" / "tiny" / "pfeiffer_rf16" / "rte" / "seed1"
    publish(hub_cache, "me/tiny-rte", adapter_files(rte))
    local = tmp_path / "tiny-rte"  # the same name the Hub adapter goes by: the same fusion
    local.mkdir()
    for file in adapter_files(rte):
        shutil.copy(file, local / file.name)
    runs = tmp_path / "runs"
    shutil.copytree(run_tree.runs / "stage1", runs / "stage1")
    results = {}
    for source in ("me/tiny-rte", str(local)):
        afuse("fuse", *args_in(run_tree, runs, "target=cb", f"fusion.sources=[cb,{source}]"))
        (run,) = [p for p in (runs / "stage2").rglob("seed1") if p not in results.values()]
        results[source] = run
    by_hub, by_dir = (read_metrics(results[s])["test"] for s in ("me/tiny-rte", str(local)))
    assert by_hub["accuracy"] == by_dir["accuracy"] and by_hub["loss"] == by_dir["loss"]
    activations = json.loads((results["me/tiny-rte"] / "activations.json").read_text())
    assert activations["sources"] == ["cb", "tiny-rte"]

    # status reads the cached snapshot the run fused (never the network): done, not stale
    def state_of(run: Path) -> str:
        capsys.readouterr()
        afuse("list", "runs", f"paths.runs={runs}", f"paths.logs={tmp_path}/logs")
        (line,) = [line for line in capsys.readouterr().out.splitlines() if line.endswith(str(run))]
        return line.split()[0]

    assert state_of(results["me/tiny-rte"]) == state_of(results[str(local)]) == "done"

    # evaluate rebuilds the Fusion run from the cache, and reproduces it
    run = results["me/tiny-rte"]
    afuse("evaluate", f"run={run}", *run_tree.eval_args(f"paths.runs={runs}"))
    assert json.loads((run / "eval" / "test" / "metrics.json").read_text())["accuracy"] == by_hub["accuracy"]


def test_an_adapter_with_its_head_is_evaluated_by_hub_id(run_tree, tmp_path, hub_cache, capsys):
    export = tmp_path / "export"
    afuse("export", f"run={run_tree.run('st_a')}", f"out={export}", f"paths.logs={tmp_path}/logs")
    publish(hub_cache, "me/tiny-cb", sorted(p for p in (export / "cb").iterdir() if p.is_file()))
    scores = {}
    for adapter in ("me/tiny-cb", str(export / "cb")):
        out = tmp_path / "eval" / adapter.replace("/", "_")
        data = ["data.source=local", f"data.raw_dir={run_tree.raw_dir}", f"out={out}"]
        afuse("evaluate", f"adapterhub={adapter}", "task=cb", "model=tiny", *run_tree.eval_args(*data))
        scores[adapter] = json.loads((out / "test" / "metrics.json").read_text())
    assert scores["me/tiny-cb"]["accuracy"] == scores[str(export / "cb")]["accuracy"]
    assert scores["me/tiny-cb"]["loss"] == pytest.approx(scores[str(export / "cb")]["loss"], rel=1e-6)

    # Its outputs never go into the shared Hub cache, beside the adapter, as a directory's do
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        afuse_main(["evaluate", "adapterhub=me/tiny-cb", "task=cb", "model=tiny", *run_tree.eval_args()])
    assert exit_.value.code == 2 and "add out=<dir> for the outputs" in capsys.readouterr().err
    assert not list(hub_cache.rglob("eval"))


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        (
            "fusion.sources=[cb,me/not-downloaded]",
            "'me/not-downloaded' is not a directory here, and as a Hugging Face Hub id it cannot",
        ),
        ("fusion.sources=[cb,me/not-an-adapter]", "the Hub repository me/not-an-adapter holds no adapter"),
    ],
)
def test_a_hub_adapter_that_cannot_be_had_is_one_line(
    argument, message, run_tree, tmp_path, hub_cache, capsys
):
    readme = tmp_path / "README.md"
    readme.write_text("a model card, no adapter")
    publish(hub_cache, "me/not-an-adapter", [readme])
    with pytest.raises(SystemExit) as exit_:
        afuse_main(["fuse", *args_in(run_tree, tmp_path / "runs", "target=cb", argument)])
    err = capsys.readouterr().err
    assert exit_.value.code in (2, 3, 4) and "Traceback" not in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0], err
    assert not (tmp_path / "runs" / "stage2").exists()  # refused before any run folder was made


def test_a_fusion_over_a_hub_adapter_updated_since_is_stale(run_tree, tmp_path, hub_cache, capsys):
    """A later download of a newer revision replaces the cached snapshot the run fused."""
    rte = run_tree.runs / "stage1" / "tiny" / "pfeiffer_rf16" / "rte" / "seed1"
    publish(hub_cache, "me/tiny-rte", adapter_files(rte))
    runs = tmp_path / "runs"
    shutil.copytree(run_tree.runs / "stage1", runs / "stage1")
    afuse("fuse", *args_in(run_tree, runs, "target=cb", "fusion.sources=[cb,me/tiny-rte]"))
    other = run_tree.runs / "stage1" / "tiny" / "pfeiffer_rf16" / "cb" / "seed1"  # other weights, same shapes
    snapshot = hub_cache / "models--me--tiny-rte" / "snapshots" / COMMIT
    shutil.copy(other / "adapter.safetensors", snapshot / "adapter.safetensors")
    capsys.readouterr()
    afuse("list", "runs", f"paths.runs={runs}", f"paths.logs={tmp_path}/logs")
    (line,) = [line for line in capsys.readouterr().out.splitlines() if "src-" in line]
    assert line.split()[0] == "stale", line
