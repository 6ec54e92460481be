"""runs.check_same_config: an unfinished run's config.yaml that does not read stops the resume
with one line (what to do), not a YAML traceback; the checkpoint is left alone."""

import pytest
from omegaconf import OmegaConf

from afuse.errors import AfuseError
from afuse.runs import check_same_config, write_config


@pytest.mark.parametrize("text", ["seed: 1\ntask: [cb", "- seed\n- 1\n", b"seed: \xff\n"])
def test_a_config_yaml_that_does_not_read_refuses_the_resume(text, tmp_path):
    (tmp_path / "config.yaml").write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(AfuseError) as refused:
        check_same_config(tmp_path, OmegaConf.create({"seed": 1}))
    message = str(refused.value)
    assert str(tmp_path / "config.yaml") in message and "force=true" in message
    assert len(message.splitlines()) == 1


def test_the_same_settings_resume(tmp_path):
    (tmp_path / "config.yaml").write_text("seed: 1\nforce: true\n")
    check_same_config(tmp_path, OmegaConf.create({"seed": 1, "force": False}))


def test_config_yaml_records_a_relative_raw_dir_as_the_folder_it_named(tmp_path, monkeypatch):
    # Read from the directory the run started in; evaluate or predict re-preparing the run's
    # data from another directory would look somewhere else (and find nothing).
    started_in = tmp_path / "clone"
    started_in.mkdir()
    monkeypatch.chdir(started_in)
    cfg = OmegaConf.create({"seed": 1, "data": {"source": "local", "raw_dir": "../shared/data"}})
    write_config(tmp_path, cfg)
    record = OmegaConf.load(tmp_path / "config.yaml")
    assert record.data.raw_dir == str(tmp_path / "shared" / "data")
    assert record.seed == 1 and record.data.source == "local"
    cfg.data.raw_dir = None  # data.source=hub runs, and absolute folders of a task of one's own
    write_config(tmp_path, cfg)
    assert OmegaConf.load(tmp_path / "config.yaml").data.raw_dir is None
