"""`afuse run experiment=<preset>`: run a whole preset, in order, and resume where it stopped.

  1. stage 1: one `afuse <command> -m ...` multirun per job group, for the jobs not done yet
  2. stage 2: the Fusion jobs whose stage-1 adapters now exist (the others are reported)
  3. `afuse report experiment=<preset>`

Each multirun is a child process (`python -m afuse.cli ...`) using the launcher given here
(hydra/launcher=local | local_parallel | slurm_gpu and its hydra.launcher.* settings), so a
SLURM sweep is submitted and waited for like a local one. Finished and running jobs are left
out of every launch (so are stale ones: made with other settings, or Fusion runs over source
adapters retrained since; only their force=true lines in `afuse status` replace them); failed
and incomplete ones are launched again (the training commands resume them), so rerunning
`afuse run` continues a preset. dry_run=true prints the plan. A sweep SLURM does not take
(nothing submitted) stops `afuse run` there with its error and exit code.

Overrides given to `afuse run` other than its own (dry_run, run.*) are passed on to every job:
paths.*, data.*, model=, trainer.*, logger=... The children do not write a report each
(AFUSE_AUTO_REPORT=0); the driver writes one at the end.
"""

import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from afuse.commands.status import State, is_ready, job_states, to_launch
from afuse.errors import AfuseError
from afuse.experiment import (
    Experiment,
    Job,
    load_experiment,
    passed_on_overrides,
    shell_command,
    sweep_lines,
)
from afuse.report.callback import ENV_SWITCH
from afuse.report.layout import report_layout
from afuse.slurm_submit import RECORD_ENV, SubmissionFailed, recorded_failure
from afuse.source_digests import SourceDigests

log = logging.getLogger("afuse")

OWN_KEYS = ("experiment", "dry_run", "run.")  # the driver's own overrides; experiment.* is passed on
REPORT_KEYS = (
    "paths.",
    "model",
    "logger",
    "data.",  # the settings the jobs were made with: the report leaves out runs made with others
    "trainer.",
    "experiment.",
    "hydra.searchpath",  # where a preset of the user's own is
)  # what the report's config takes from the overrides


@dataclass(frozen=True)
class Sweep:
    """One `afuse <command> -m ...` child run."""

    label: str  # what the output calls it: the job group, or "prepare-data" / "report"
    command: str
    overrides: tuple[str, ...]
    jobs: tuple[Job, ...] = ()
    multirun: bool = True

    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "afuse.cli",
            self.command,
            *(["-m"] if self.multirun else []),
            *self.overrides,
        ]

    def shell(self) -> str:
        return shell_command(self.command, list(self.overrides), self.multirun)


@dataclass(frozen=True)
class Settings:
    forwarded: tuple[str, ...] = ()  # overrides for every job
    dry_run: bool = False
    concurrent: bool = False  # start a stage's sweeps together (a SLURM launcher waits per sweep)
    prepare_data: bool = False
    report: bool = True
    sweep_dir: str | None = None  # the command line's hydra.sweep.dir: each group's sweeps go under it


# --- planning ----------------------------------------------------------------------------------


def stage_sweeps(experiment: Experiment, stage: int, states, settings: Settings, assume_done=frozenset()):
    """The sweeps that launch the stage's pending jobs whose inputs exist (or are in
    `assume_done`, for a dry run), and the pending jobs that must wait."""
    pending = [job for job in to_launch(states) if job.stage == stage]
    ready = [job for job in pending if is_ready(job) or set(job.needs) <= assume_done]
    waiting = [job for job in pending if job not in ready]
    sweeps = [
        Sweep(
            group.name,
            group.command,
            (*line.overrides, *settings.forwarded, _sweep_dir(experiment, group.name, settings.sweep_dir)),
            line.jobs,
        )
        for group in experiment.groups.values()
        for line in sweep_lines(experiment, group, [job for job in ready if job.group == group.name])
    ]
    return sweeps, waiting


def _sweep_dir(experiment: Experiment, group: str, base: str | None = None) -> str:
    """Each preset and group logs its sweeps apart (concurrent sweeps must not share a folder),
    under the command line's hydra.sweep.dir when it gives one."""
    base = base or f"${{paths.logs}}/multirun/{experiment.name}"
    return f"hydra.sweep.dir={base}/{group}/${{now:%Y-%m-%d_%H-%M-%S-%f}}"  # %f: see conf/hydra/default.yaml


# What `afuse prepare-data experiment=<preset>` reads of this command line (afuse/offline_ready.py).
PREPARE_KEYS = ("paths.", "model", "data.", "experiment.", "hydra.searchpath", "hydra.verbose")
PREPARE_KEYS += ("hydra/job_logging", "hydra.job_logging")


def prepare_step(experiment: Experiment, settings: Settings) -> Sweep:
    """`afuse prepare-data experiment=<preset>`, once, before any job: every task the jobs read,
    prepared with their own settings (each group's data.* too) and tokenised, and the model
    fetched. Here, not through the launcher: `afuse run` runs where it was typed (a cluster's
    login node, with internet), and the jobs then need none. (It was a `prepare-data -m
    task=...` sweep with the preset's top-level data.* only: a group's data.* override made its
    jobs prepare their task again, and nothing was tokenised or downloaded.)"""
    overrides = tuple(o for o in settings.forwarded if o.lstrip("+~").startswith(PREPARE_KEYS))
    return Sweep(
        "prepare-data", "prepare-data", (f"experiment={experiment.name}", *overrides), multirun=False
    )


def report_step(experiment: Experiment, settings: Settings) -> Sweep:
    report_overrides = tuple(o for o in settings.forwarded if o.startswith(REPORT_KEYS))
    return Sweep("report", "report", (f"experiment={experiment.name}", *report_overrides), multirun=False)


# --- running -----------------------------------------------------------------------------------


def run_children(sweeps: list[Sweep], concurrent: bool) -> list[int]:
    """Run sweeps as child processes (output goes straight to this terminal); their exit codes.

    A sweep SLURM did not take (nothing submitted: no controller reachable, a partition it does
    not know) raises its error: every later sweep would fail the same way, so none is started.
    Sweeps started together (concurrent) are waited for first. A job that failed on its node is
    only an exit code, as any failed job."""
    with tempfile.TemporaryDirectory(prefix="afuse-run-") as records:

        def start(index: int, sweep: Sweep) -> subprocess.Popen:
            env = {**os.environ, ENV_SWITCH: "0", RECORD_ENV: str(Path(records) / f"{index}.json")}
            return subprocess.Popen(sweep.argv(), env=env)

        if concurrent:
            codes = _wait([start(index, sweep) for index, sweep in enumerate(sweeps)])
            _stop_if_unsubmitted(sweeps, Path(records))
            return codes
        codes = []
        for index, sweep in enumerate(sweeps):
            codes += _wait([start(index, sweep)])
            _stop_if_unsubmitted(sweeps[: index + 1], Path(records))
        return codes


def _stop_if_unsubmitted(sweeps: list[Sweep], records: Path) -> None:
    for index, sweep in enumerate(sweeps):
        error = recorded_failure(records / f"{index}.json")
        if error is not None:
            raise SubmissionFailed(
                f"the {sweep.label} sweep was not submitted, so afuse run stops here: {error}",
                error.exit_code,
            )


def _wait(processes: list[subprocess.Popen]) -> list[int]:
    """Their exit codes. On Ctrl-C the children (same terminal) got it too: they finish their step
    and write a checkpoint, so wait for them instead of killing them as subprocess.run would; a
    second Ctrl-C reaches them as well and ends the wait."""
    try:
        return [process.wait() for process in processes]
    except KeyboardInterrupt:
        for process in processes:
            process.wait()
        raise


def drive(
    experiment: Experiment, settings: Settings, run: Callable[[list[Sweep], bool], list[int]] = run_children
):
    """Run (or with dry_run print) the preset stage by stage; returns the jobs not done at the end
    and the steps that failed ("report (exit 2)")."""
    digests = SourceDigests()  # each source adapter hashed once, however often the states are read
    states = job_states(experiment, digests=digests)
    failed: list[str] = []
    _say(
        f"afuse run: {experiment.name}: {_counts(states)}"
        + (" (dry run: nothing is started)" if settings.dry_run else "")
    )
    if settings.prepare_data:
        failed += _launch("prepare data", [prepare_step(experiment, settings)], settings, run)
    planned: set = set()  # in a dry run: the stage-1 run dirs the plan would produce
    for stage in (1, 2):
        sweeps, waiting = stage_sweeps(experiment, stage, states, settings, frozenset(planned))
        failed += _launch(f"stage {stage}", sweeps, settings, run)
        if waiting:
            _say(
                f"  {len(waiting)} job(s) wait for stage-1 runs that are not done; they run on the next `afuse run`"
            )
        if settings.dry_run:
            planned |= {job.run_dir for sweep in sweeps for job in sweep.jobs}
        else:
            states = job_states(experiment, digests=digests)
    if settings.report:
        failed += _launch("report", [report_step(experiment, settings)], settings, run)
    not_done = [job for job, (state, _) in states.items() if state is not State.DONE]
    if not settings.dry_run:
        _say(f"afuse run: {experiment.name}: {_counts(states)}")
    return not_done, failed


def _launch(title: str, sweeps: list[Sweep], settings: Settings, run) -> list[str]:
    """Run the step's sweeps; the ones that failed, as "<title> <label> (exit <code>)"."""
    if not sweeps:
        _say(f"[{title}] nothing to launch")
        return []
    for sweep in sweeps:
        jobs = f" ({len(sweep.jobs)} job{'s' if len(sweep.jobs) != 1 else ''})" if sweep.jobs else ""
        _say(f"[{title}] {sweep.label}{jobs}: {sweep.shell()}")
    if settings.dry_run:
        return []
    failed = []
    for sweep, code in zip(sweeps, run(sweeps, settings.concurrent), strict=True):
        if code != 0:
            _say(f"[{title}] {sweep.label}: exited with status {code} (see its output above)")
            failed.append(
                f"{title} {sweep.label} (exit {code})" if sweep.label != title else f"{title} (exit {code})"
            )
    return failed


def _counts(states) -> str:
    counts = {state: sum(1 for s, _ in states.values() if s is state) for state in State}
    return ", ".join(f"{n} {state}" for state, n in counts.items() if n) or "no jobs"


def _say(line: str) -> None:
    print(line, flush=True)  # plain stdout, interleaved in order with the children's output


# --- entry point -------------------------------------------------------------------------------


def settings_from(cfg: DictConfig) -> Settings:
    from hydra.core.hydra_config import HydraConfig

    hydra_cfg = HydraConfig.get()
    concurrent = cfg.run.concurrent_sweeps
    if concurrent == "auto":
        concurrent = "slurm" in str(hydra_cfg.runtime.choices.get("hydra/launcher"))
    return Settings(
        forwarded=passed_on_overrides(OWN_KEYS),
        dry_run=bool(cfg.dry_run),
        concurrent=bool(concurrent),
        prepare_data=bool(cfg.run.prepare_data),
        report=bool(cfg.run.report),
        sweep_dir=_given_sweep_dir(hydra_cfg.overrides.hydra),
    )


def _given_sweep_dir(hydra_overrides) -> str | None:
    """hydra.sweep.dir=<dir> as typed (its ${...} resolved in each sweep); without -m Hydra itself
    would not read it."""
    given = [o.partition("=")[2] for o in hydra_overrides if o.partition("=")[0] == "hydra.sweep.dir"]
    return given[-1].rstrip("/") if given else None


def main(cfg: DictConfig) -> None:
    experiment = load_experiment(cfg)
    report_layout(experiment)  # a mistake in the report section must not wait for every job to train
    settings = settings_from(cfg)
    not_done, failed = drive(experiment, settings)
    if cfg.dry_run or not (not_done or failed):
        return
    what = [f"failed: {', '.join(failed)}"] if failed else []
    if not_done:
        what.append(f"{len(not_done)} job(s) not done")
    # with this line's overrides: a preset of one's own is found only through its hydra.searchpath
    status = shell_command("status", [f"experiment={experiment.name}", *settings.forwarded], multirun=False)
    raise StepFailed(
        f"{experiment.name}: {'; '.join(what)}. `{status}` says which jobs and why; "
        f"{_how_to_go_on(experiment, not_done)}"
    )


def _how_to_go_on(experiment, not_done) -> str:
    # A rerun skips stale and damaged runs (it never replaces a finished run unasked): say so.
    states = job_states(experiment)
    kept = sum(1 for job in not_done if states[job][0] in (State.STALE, State.DAMAGED))
    if not kept:
        return "`afuse run` again resumes"
    return (
        f"`afuse run` again resumes the rest, but not the {kept} stale or damaged run(s): "
        "only their force=true lines in `afuse status` replace them"
    )


class StepFailed(AfuseError):
    """A step of `afuse run` (a sweep, the report) failed, or jobs are left undone."""

    exit_code = 1
