"""afuse.offline_ready.make_ready stopped by Ctrl-C while it writes a task: the stop reaches the
command (exit 130 there, not a 'failed' line), the task's folder reads as not prepared (its index
is written last), and the next make_ready prepares it whole."""

import json

import pytest

import afuse.data.prepare as prepare_module
from afuse.offline_ready import make_ready
from afuse.preset_inputs import TaskInput
from tests.from_conf import conf_file


def test_ctrl_c_while_a_task_is_written_leaves_it_unprepared_and_the_rerun_prepares_it(
    task_cfg, data_cfg, paths_cfg, monkeypatch
):
    inputs = {"rte": [TaskInput("rte", task_cfg("rte"), data_cfg(), ("st_a",))]}
    real_write, written = prepare_module.write_parquet, []

    def write_then_stop(path, table):
        if written:  # the second split: as if Ctrl-C came while it was written
            raise KeyboardInterrupt
        written.append(path)
        return real_write(path, table)

    monkeypatch.setattr(prepare_module, "write_parquet", write_then_stop)
    said = []
    with pytest.raises(KeyboardInterrupt):
        make_ready(conf_file("model", "tiny"), paths_cfg, inputs, said.append)
    prepared = written[0].parent
    assert not (prepared / "manifest.json").exists() and [line for line in said if "rte" in line] == []

    monkeypatch.setattr(prepare_module, "write_parquet", real_write)
    make_ready(conf_file("model", "tiny"), paths_cfg, inputs, said.append)
    assert said[-1].startswith("  rte: prepared (")
    manifest = json.loads((prepared / "manifest.json").read_text())
    assert sorted(p.name for p in prepared.glob("*.parquet")) == sorted(
        f"{s}.parquet" for s in manifest["splits"]
    )
    make_ready(conf_file("model", "tiny"), paths_cfg, inputs, said.append)
    assert said[-1].startswith("  rte: up to date (")
