"""runs.check_same_config: an unfinished run's config.yaml that does not read stops the resume
with one line (what to do), not a YAML traceback; the checkpoint is left alone."""

import pytest
from omegaconf import OmegaConf

from afuse.errors import AfuseError
from afuse.runs import check_same_config


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
