"""hydra_plugins/afuse_plugins/sweeper.py: how a sweep whose jobs failed ends."""

import pytest
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from afuse.job_failed import JobFailed
from hydra_plugins.afuse_plugins.sweeper import FailedJobs


def job(task: str, seed: int, outcome=None) -> JobReturn:
    """A job's return as a launcher hands it back: completed, refused (JobFailed) or a bug."""
    result = JobReturn(
        overrides=[f"task={task}", f"seed={seed}"],
        cfg=OmegaConf.create({"task": {"name": task}, "seed": seed}),
    )
    result.status = JobStatus.COMPLETED if outcome is None else JobStatus.FAILED
    result._return_value = outcome
    return result


def test_every_refused_job_is_named_in_one_closing_line(capsys):
    """Hydra named only the first failed job ("Error executing job with overrides: [...]")."""
    results = [job("rte", 1, JobFailed("afuse fuse: error: x")), job("cb", 1), job("cb", 2, JobFailed("y"))]
    with pytest.raises(SystemExit) as exit_:
        FailedJobs("afuse fuse").check(results)
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        "afuse fuse: 2 of 3 jobs failed: [rte seed 1], [cb seed 2] (each one's error line is above); "
        "fix what they say and rerun the same command: finished jobs are skipped"
    )


def test_a_bug_in_a_later_job_is_not_hidden_by_a_refused_one(capsys):
    """The sweep stopped at the first failed job: a refused job before a job that hit a bug hid
    the bug's traceback entirely (its exception was never read)."""
    bug = RuntimeError("an afuse bug")
    results = [job("rte", 1, JobFailed("refused")), job("cb", 1, bug)]
    ordered = FailedJobs("afuse fuse").check(results)
    assert ordered[0]._return_value is bug  # Hydra raises the first failed job's exception
    assert sorted(map(id, ordered)) == sorted(map(id, results))
    assert "1 of 2 jobs failed: [rte seed 1]" in capsys.readouterr().err


def test_a_sweep_whose_jobs_all_finished_says_nothing(capsys):
    results = [job("rte", 1), job("cb", 1)]
    assert FailedJobs("afuse fuse").check(results) == results
    assert capsys.readouterr().err == ""
