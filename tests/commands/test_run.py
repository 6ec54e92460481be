"""afuse run: which multirun commands it issues, in which order, and how it resumes."""

from afuse.commands.run import Settings, drive, prepare_step, report_step, stage_sweeps
from afuse.commands.status import job_states
from afuse.experiment import load_experiment
from tests.synthetic import write_run


def cpu_small(compose_preset):
    return load_experiment(compose_preset("cpu_small", "run"))


class FakeLauncher:
    """Stands in for the child processes: records each call and finishes the sweeps' jobs,
    except those of tasks in `fail_tasks`."""

    def __init__(self, fail_tasks=()):
        self.calls = []
        self.fail_tasks = set(fail_tasks)

    def __call__(self, sweeps, concurrent):
        self.calls.append(([s.label for s in sweeps], concurrent))
        codes = []
        for sweep in sweeps:
            failed = [job for job in sweep.jobs if job.task in self.fail_tasks]
            for job in sweep.jobs:
                if job not in failed:
                    write_run(job.run_dir, 0.6)
            codes.append(1 if failed else 0)
        return codes


def test_dry_run_prints_the_plan_in_order(compose_preset, capsys):
    experiment = cpu_small(compose_preset)
    not_done, _ = drive(
        experiment, Settings(dry_run=True), run=lambda *_: (_ for _ in ()).throw(AssertionError)
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "afuse run: cpu_small: 10 missing (dry run: nothing is started)"
    assert lines[1].startswith(
        "[stage 1] st_a (4 jobs): afuse train-adapter -m experiment=cpu_small adapter=pfeiffer"
    )
    assert "task=sst2,mrpc,rte,cb seed=1" in lines[1]
    assert lines[2].startswith(
        "[stage 1] head (3 jobs): afuse finetune -m experiment=cpu_small mode=head trainer.lr=1e-3 task=mrpc,rte,cb"
    )
    assert lines[3].startswith(
        "[stage 2] fusion_st_a (3 jobs): afuse fuse -m experiment=cpu_small adapters=st_a"
    )
    assert lines[4] == "[report] report: afuse report experiment=cpu_small"
    assert len(lines) == 5 and len(not_done) == 10


def test_stage2_runs_after_stage1_then_the_report(compose_preset, capsys):
    experiment = cpu_small(compose_preset)
    launcher = FakeLauncher()
    assert drive(experiment, Settings(), run=launcher) == ([], [])
    assert launcher.calls == [(["st_a", "head"], False), (["fusion_st_a"], False), (["report"], False)]
    assert capsys.readouterr().out.splitlines()[-1] == "afuse run: cpu_small: 10 done"


def test_rerun_launches_only_what_is_left(compose_preset):
    experiment = cpu_small(compose_preset)
    drive(experiment, Settings(report=False), run=FakeLauncher(fail_tasks={"cb"}))
    # st_a cb and head cb failed; Fusion needs the cb adapter: no Fusion job could start.
    states = job_states(experiment)
    assert sum(state == "done" for state, _ in states.values()) == 5
    sweeps, waiting = stage_sweeps(experiment, 1, states, Settings())
    assert [s.label for s in sweeps] == ["st_a", "head"]
    assert all(job.task == "cb" for sweep in sweeps for job in sweep.jobs)
    assert "task=cb" in sweeps[0].overrides and not waiting
    sweeps, waiting = stage_sweeps(experiment, 2, states, Settings())
    assert sweeps == [] and len(waiting) == 3
    launcher = FakeLauncher()
    assert drive(experiment, Settings(report=False), run=launcher) == ([], [])
    assert launcher.calls == [(["st_a", "head"], False), (["fusion_st_a"], False)]


def test_running_jobs_are_not_launched_twice(compose_preset):
    import json
    import os
    import socket

    experiment = cpu_small(compose_preset)
    rte = next(job for job in experiment.groups["st_a"].jobs if job.task == "rte")
    rte.run_dir.mkdir(parents=True)
    (rte.run_dir / ".lock").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    sweeps, _ = stage_sweeps(experiment, 1, job_states(experiment), Settings())
    assert "task=sst2,mrpc,cb" in sweeps[0].overrides


def test_forwarded_overrides_reach_jobs_and_report(compose_preset):
    experiment = cpu_small(compose_preset)
    settings = Settings(
        forwarded=(
            "paths.runs=/scratch/runs",
            "trainer.num_threads=2",
            "logger=wandb",
            "hydra/launcher=slurm_gpu",
            "hydra.launcher.partition=gpu",
        ),
        concurrent=True,
    )
    sweeps, _ = stage_sweeps(experiment, 1, job_states(experiment), settings)
    overrides = sweeps[0].overrides
    assert overrides[-6:-1] == settings.forwarded
    assert (
        overrides[-1] == "hydra.sweep.dir=${paths.logs}/multirun/cpu_small/st_a/${now:%Y-%m-%d_%H-%M-%S-%f}"
    )
    assert sweeps[0].argv()[1:5] == ["-m", "afuse.cli", "train-adapter", "-m"]
    report = report_step(experiment, settings)
    assert report.overrides == (
        "experiment=cpu_small",
        "paths.runs=/scratch/runs",
        "trainer.num_threads=2",  # the report compares the runs with the settings they were made with
        "logger=wandb",
    )
    assert report.argv()[3:] == ["report", *report.overrides]
    prepare = prepare_step(experiment, settings)  # on the driver (a login node), not the launcher
    assert prepare.overrides == ("experiment=cpu_small", "paths.runs=/scratch/runs")
    assert prepare.argv()[3:] == ["prepare-data", *prepare.overrides]


def test_concurrent_sweeps_are_passed_to_the_launcher(compose_preset):
    launcher = FakeLauncher()
    drive(cpu_small(compose_preset), Settings(concurrent=True, report=False), run=launcher)
    assert launcher.calls == [(["st_a", "head"], True), (["fusion_st_a"], True)]


def test_a_sweep_dir_given_to_run_holds_every_groups_sweeps(compose_preset):
    """`afuse run ... hydra.sweep.dir=/x/sw` was dropped without a word: each sweep logged to
    logs/multirun/<preset>/<group>/ all the same. The groups' sweeps go in their own folders under
    it (concurrent sweeps must not share one)."""
    experiment = cpu_small(compose_preset)
    settings = Settings(sweep_dir="/x/sw")
    sweeps, _ = stage_sweeps(experiment, 1, job_states(experiment), settings)
    assert [s.overrides[-1] for s in sweeps] == [
        "hydra.sweep.dir=/x/sw/st_a/${now:%Y-%m-%d_%H-%M-%S-%f}",
        "hydra.sweep.dir=/x/sw/head/${now:%Y-%m-%d_%H-%M-%S-%f}",
    ]
    assert all(o.count("hydra.sweep.dir=") == 1 for s in sweeps for o in [" ".join(s.overrides)])


def test_hydras_logging_settings_reach_the_jobs():
    """hydra.verbose=true or hydra/job_logging=disabled on `afuse run` changed the driver's own
    logging only; the jobs, whose logs they are meant for, never saw them (nor their sweeps'
    hydra.sweep.subdir, nor the environment hydra.job.env_set gives them)."""
    from afuse.experiment import FORWARDED_HYDRA

    forwarded = ("hydra.verbose=true", "hydra/job_logging=disabled", "hydra.output_subdir=null")
    for override in (*forwarded, "hydra.sweep.subdir=${task.name}", "hydra.job.env_set.X=1"):
        assert override.startswith(FORWARDED_HYDRA)
    assert not "hydra.run.dir=x".startswith(FORWARDED_HYDRA)
    assert not "hydra.sweep.dir=x".startswith(FORWARDED_HYDRA)


def test_sweeps_of_one_group_started_together_get_their_own_folders(compose_preset):
    """A group whose tasks lack different seeds is launched as several sweeps, started together
    with a SLURM launcher: named to the second, they shared one folder (job folders 0, 1, ...
    of both in one place). conf/hydra/default.yaml's sweep folders are named to the microsecond."""
    from omegaconf import OmegaConf

    from tests.from_conf import conf_file

    experiment = cpu_small(compose_preset)
    default_suffix = OmegaConf.to_container(conf_file("hydra", "default"))["sweep"]["dir"].rpartition("/")[2]
    sweeps, _ = stage_sweeps(experiment, 1, job_states(experiment), Settings())
    assert default_suffix.endswith("-%f}") and all(
        s.overrides[-1].endswith(f"/{default_suffix}") for s in sweeps
    )
