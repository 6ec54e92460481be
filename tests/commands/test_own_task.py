"""A researcher's own tasks, configured outside the repository (hydra.searchpath=[file:///my/conf]
with /my/conf/task/<name>.yaml), work wherever the paper's tasks do: stage 1, Fusion as target and
as source, MT-A and `afuse list tasks`. Before, only conf/task/ was searched for target= and
tasks= names, so `afuse fuse target=mine` said "unknown task" for a task train-adapter had trained."""

import csv
import json
from pathlib import Path

import pytest
from hydra.core.hydra_config import HydraConfig

from afuse.run_identity import multitask_dir, stage1_dir
from afuse.runs import read_metrics
from tests.commands import afuse_exit_code

pytestmark = pytest.mark.slow  # small training runs of the tiny model in this process

SINGLE = """
name: mysent
display_name: MySent
kind: single
num_choices: null
labels: [bad, good]
max_length: 32
local:
  folder: MySent
  origin: my own annotation
  format: jsonl
  fields: {id: uid, text_a: review, label: sentiment}
  files: {train: train.jsonl, test: dev.jsonl}
"""

PAIR = """
name: mypair
kind: pair
num_choices: null
labels: ["no", "yes"]
max_length: 32
local:
  folder: MyPair
  origin: my own annotation
  format: csv
  fields: {id: pid, text_a: evidence, text_b: claim, label: verdict}
  files: {train: train.csv, test: test.csv}
"""

WORDS = ["the", "a", "film", "plot", "actor", "scene", "story", "music", "ending", "cast"]


def sentence(i: int) -> str:
    return " ".join(WORDS[(i * k) % len(WORDS)] for k in range(1, 6))


def write_data(raw: Path) -> None:
    (raw / "MySent").mkdir(parents=True)
    for split, rows in (("train", 60), ("dev", 20)):
        with open(raw / "MySent" / f"{split}.jsonl", "w") as out:
            for i in range(rows):
                record = {"uid": f"{split}{i}", "review": sentence(i), "sentiment": ["bad", "good"][i % 2]}
                out.write(json.dumps(record) + "\n")
    (raw / "MyPair").mkdir()
    for split, rows in (("train", 60), ("test", 20)):
        with open(raw / "MyPair" / f"{split}.csv", "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["pid", "claim", "evidence", "verdict"])
            for i in range(rows):
                writer.writerow([i, sentence(i), f"{sentence(i + 1)}, said {i}", ["no", "yes"][i % 2]])


@pytest.fixture(scope="module")
def mine(tmp_path_factory) -> Path:
    """A folder with conf/task/{mysent,mypair}.yaml and their raw files under raw/."""
    root = tmp_path_factory.mktemp("mine")
    (root / "conf" / "task").mkdir(parents=True)
    (root / "conf" / "task" / "mysent.yaml").write_text(SINGLE)
    (root / "conf" / "task" / "mypair.yaml").write_text(PAIR)
    write_data(root / "raw")
    return root


def settings(root: Path) -> list[str]:
    return [
        f"hydra.searchpath=[file://{root}/conf]",
        "model=tiny",
        "data.source=local",
        f"data.raw_dir={root}/raw",
        "trainer.max_epochs=1",
        "trainer.batch_size=8",
        "trainer.num_threads=1",
        "trainer.progress_bar=false",
        f"paths.runs={root}/runs",
        f"paths.data={root}/data",
        f"paths.logs={root}/logs",
    ]


def test_own_tasks_train_fuse_and_train_multitask(mine, capsys):
    for task in ("mysent", "mypair"):
        assert afuse_exit_code("train-adapter", f"task={task}", *settings(mine)) == 0
    assert afuse_exit_code("fuse", "target=mysent", "fusion.sources=[mysent,mypair]", *settings(mine)) == 0
    assert afuse_exit_code("train-multitask", "tasks=[mypair,mysent]", *settings(mine)) == 0
    assert "fusion.sources entry" not in capsys.readouterr().err
    fusion = next((mine / "runs" / "stage2" / "tiny").glob("dynamic_pfeiffer_rf16_src-*/mysent/seed1"))
    assert read_metrics(fusion)["sources"] == ["mypair", "mysent"]
    mt_a = read_metrics(multitask_dir(mine / "runs", "tiny", "mypair-mysent", 1))
    assert set(mt_a["tasks"]) == {"mypair", "mysent"}
    assert (
        read_metrics(stage1_dir(mine / "runs", "tiny", "pfeiffer_rf16", "mypair", 1))["test"]["accuracy"] >= 0
    )
    # The runs record their tasks: evaluating the Fusion run needs no search path (and Hydra's
    # config of the commands above, which held one, must not stand in for it in this process).
    HydraConfig.instance().cfg = None
    assert (
        afuse_exit_code("evaluate", f"run={fusion}", f"paths.data={mine}/data", f"paths.logs={mine}/logs")
        == 0
    )
    scored = json.loads((fusion / "eval" / "test" / "metrics.json").read_text())
    assert scored["accuracy"] == read_metrics(fusion)["test"]["accuracy"]
    # A source retrained since makes the Fusion stale, also where the task's config is not found.
    assert (
        afuse_exit_code("train-adapter", "task=mypair", "trainer.lr=0.05", "force=true", *settings(mine)) == 0
    )
    HydraConfig.instance().cfg = None
    capsys.readouterr()
    assert (
        afuse_exit_code(
            "status", f"paths.runs={mine}/runs", f"paths.data={mine}/data", f"paths.logs={mine}/logs"
        )
        == 0
    )
    stale = [line for line in capsys.readouterr().out.splitlines() if line.startswith("stale")]
    assert len(stale) == 1 and "source adapter(s) mypair were retrained" in stale[0]
    # ... and retraining it from its own record needs no search path either (README: rerunning a run).
    HydraConfig.instance().cfg = None
    rerun = ["--config-dir", str(fusion), "--config-name", "config", "+hydra=default", "force=true"]
    assert afuse_exit_code("fuse", *rerun, f"paths.logs={mine}/logs") == 0
    mt_a_dir = multitask_dir(mine / "runs", "tiny", "mypair-mysent", 1)
    HydraConfig.instance().cfg = None
    rerun = ["--config-dir", str(mt_a_dir), "--config-name", "config", "+hydra=default"]
    assert (
        afuse_exit_code("train-multitask", *rerun, f"paths.runs={mine}/again", f"paths.logs={mine}/logs") == 0
    )
    again = read_metrics(multitask_dir(mine / "again", "tiny", "mypair-mysent", 1))
    assert again["test"] == mt_a["test"]


def test_list_tasks_shows_own_tasks(mine, capsys):
    assert (
        afuse_exit_code("list", "tasks", f"hydra.searchpath=[file://{mine}/conf]", f"paths.data={mine}/data")
        == 0
    )
    listed = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()[1:]}
    assert listed["mysent"] == "single" and listed["mypair"] == "pair" and "rte" in listed


def test_without_the_searchpath_the_message_says_how_to_find_own_tasks(mine, capsys):
    code = afuse_exit_code("fuse", "target=rte", "fusion.sources=[rte,mymc]", *settings(mine)[1:])
    assert code == 2
    err = capsys.readouterr().err
    assert "fusion.sources entry 'mymc' is neither a task" in err
    assert "a task of your own: add hydra.searchpath=[file:///<dir>]" in err


def test_a_task_named_like_a_paper_task_is_refused(tmp_path, capsys):
    """Hydra reads afuse's own conf/task/rte.yaml first: the user's would be ignored silently."""
    (tmp_path / "conf" / "task").mkdir(parents=True)
    (tmp_path / "conf" / "task" / "rte.yaml").write_text(SINGLE.replace("mysent", "rte"))
    code = afuse_exit_code("train-adapter", "task=rte", *settings(tmp_path))
    assert code == 2
    assert "is named 'rte' like" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_a_broken_own_task_is_refused_before_data_is_prepared(tmp_path, capsys):
    (tmp_path / "conf" / "task").mkdir(parents=True)
    (tmp_path / "conf" / "task" / "mine.yaml").write_text(SINGLE)  # name: mysent in mine.yaml
    write_data(tmp_path / "raw")
    code = afuse_exit_code("train-adapter", "task=mine", *settings(tmp_path))
    assert code == 2
    assert (
        f"task config {tmp_path}/conf/task/mine.yaml: name: 'mysent' must be the file's name"
        in capsys.readouterr().err
    )
    assert not (tmp_path / "data" / "prepared").exists()


def test_the_lines_that_train_missing_sources_find_own_tasks(mine, capsys):
    """fuse's "train these first" lines must carry the search path, or the copied line says
    "unknown task" for the very task it names."""
    code = afuse_exit_code(
        "fuse", "target=mysent", "fusion.sources=[mysent,mypair]", "seed=7", *settings(mine)
    )
    assert code == 3
    lines = [line for line in capsys.readouterr().err.splitlines() if "afuse train-adapter" in line]
    assert lines and all(f"hydra.searchpath=[file://{mine}/conf]" in line for line in lines)


HUB_ONLY = """
name: myhub
kind: single
labels: [negative, positive]
max_length: 64
hub:
  path: someone/my-dataset
  splits: {train: train, test: validation}
  fields: {text_a: text, label: label}
"""


def test_a_hub_only_task_offline_says_there_are_no_local_files(tmp_path, monkeypatch, capsys):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    (tmp_path / "conf" / "task").mkdir(parents=True)
    (tmp_path / "conf" / "task" / "myhub.yaml").write_text(HUB_ONLY)
    searchpath, paths = f"hydra.searchpath=[file://{tmp_path}/conf]", settings(tmp_path)[-3:]
    assert afuse_exit_code("prepare-data", "task=myhub", "data.source=hub", searchpath, *paths) == 4
    err = capsys.readouterr().err
    assert (
        f"no network? its config {tmp_path}/conf/task/myhub.yaml has no local: files to read instead" in err
    )
    assert (
        afuse_exit_code(
            "prepare-data", "task=myhub", "data.source=local", f"data.raw_dir={tmp_path}", searchpath, *paths
        )
        == 2
    )
    assert (
        f"task myhub has no local files (no local: in {tmp_path}/conf/task/myhub.yaml)"
        in capsys.readouterr().err
    )
