"""`afuse status experiment=<preset>`: the state of every job of a preset, and what to launch.

A job's state comes from its run directory alone (no scheduler is asked, so it works the same
for local, joblib and SLURM runs, and stays fast for hundreds of runs):

  done        metrics.json exists (written last and atomically by every training command)
  damaged     metrics.json exists but the result does not read (afuse.result_check): retrain it
              with force=true (the note gives the command)
  running     .lock holds {"pid", "host"} of a live process; a lock of a dead pid on this host
              is stale and ignored; a lock from another host cannot be checked and counts as
              running (delete it if that job is gone)
  failed      failed.json {"error", "type", "at"} (afuse.runs.record_failure), written when a run
              stops with an error
  incomplete  the directory exists without any of the above (killed, or still starting)
  missing     no directory
  stale       finished, but its config.yaml differs from the preset's settings for it (a run
              made with other overrides), or a Fusion run one of whose source adapters was
              retrained since (its weights file no longer has the sha256 the run's metrics.json
              recorded), or a run whose task's prepared copy under paths.data was made again
              since from other raw files, or whose raw files changed since that copy was made
              (afuse.data_record): not counted as done, not
              launched (only force=true replaces it; the note gives the command and the
              differing keys, the retrained sources or the changed data)
"""

import json
import logging
import os
import socket
from enum import StrEnum
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from afuse.data_record import data_change_note
from afuse.experiment import (
    Experiment,
    Job,
    job_settings,
    launch_lines,
    load_experiment,
    passed_on_overrides,
    shell_command,
    sweep_lines,
)
from afuse.result_check import DAMAGED, read_run_config, result_damage
from afuse.run_identity import FUSE
from afuse.runs import (
    CONFIG,
    FAILED,
    LOCK,
    is_complete,
    read_metrics,
    result_config,
    same_setting,
    shared_differences,
)
from afuse.source_digests import SourceDigests, retrained_sources, stale_sources_note

log = logging.getLogger("afuse")


class State(StrEnum):
    DONE = "done"
    RUNNING = "running"
    FAILED = "failed"
    INCOMPLETE = "incomplete"
    MISSING = "missing"
    DAMAGED = "damaged"  # after the older states: the columns before it keep their places
    STALE = "stale"


def job_state(run_dir: Path, host: str | None = None) -> tuple[State, str]:
    """The state of the run in `run_dir` and a short note (the error line, the lock's owner)."""
    if is_complete(run_dir):
        damage = result_damage(run_dir)
        if damage:
            return State.DAMAGED, damage
        failure = _read_json(run_dir / FAILED)  # left by a forced rerun that failed
        return (
            State.DONE,
            f"kept; a forced rerun failed: {_failure_line(failure)}" if failure is not None else "",
        )
    host = host or socket.gethostname()
    # A released lock is an empty file (RunLock keeps it): no holder, nothing stale.
    lock = _read_json(run_dir / LOCK) if _size(run_dir / LOCK) else None
    stale = ""
    if lock is not None:
        alive, owner = _lock_owner(lock, host)
        if alive:
            return State.RUNNING, owner
        stale = f"stale lock ({owner})"
    failure = _read_json(run_dir / FAILED)
    if failure is not None:
        return State.FAILED, _failure_line(failure)
    if run_dir.is_dir():
        return State.INCOMPLETE, stale
    return State.MISSING, ""


def job_states(
    experiment: Experiment,
    passed_on: tuple[str, ...] = (),
    digests: SourceDigests | None = None,
    origin: dict | None = None,
) -> dict[Job, tuple[State, str]]:
    """Every job's state and note. `digests`: source adapter hashes already taken by this command;
    `origin`: this command's data_origin, which the retrain lines compose unless told otherwise."""
    host = socket.gethostname()
    digests = digests or SourceDigests()
    states = {job: job_state(job.run_dir, host) for job in experiment.jobs()}
    for job, (state, note) in states.items():
        if state is State.DONE:
            state, note = _stale(experiment, job, digests) or (state, note)
        if state in (State.DAMAGED, State.STALE):
            own = _own_origin(job, passed_on, origin or {})
            states[job] = (state, f"{note}; retrain it: {retrain_line(experiment, job, (*passed_on, *own))}")
    return states


# Where a run read its data from: not compared (afuse.runs.NON_RESULT_KEYS: another copy of the
# same data computes the same), so a stale run may have read another raw_dir or source than the
# preset names; retraining it must read the same, or it fails (offline) or reads another copy.
ORIGIN_KEYS = ("data.source", "data.raw_dir")


def data_origin(cfg: DictConfig) -> dict:
    """This command's data.source and data.raw_dir: what a line it prints composes."""
    return {key: OmegaConf.select(cfg, key) for key in ORIGIN_KEYS}


def _own_origin(job: Job, passed_on: tuple[str, ...], origin: dict) -> list[str]:
    """The run's data.source / data.raw_dir where the retrain line would compose others and the
    command line did not ask for them."""
    saved = read_run_config(job.run_dir / CONFIG)
    if not origin or saved is None:
        return []
    given = {override.split("=", 1)[0].lstrip("+~") for override in passed_on}
    own = {key: OmegaConf.select(OmegaConf.create(saved), key, default=None) for key in ORIGIN_KEYS}
    return [
        f"{key}={value}"
        for key, value in own.items()
        if key not in given and value is not None and not same_setting(key, value, origin.get(key))
    ]


def stale_reasons(experiment: Experiment, damaged: dict[str, str]) -> dict[str, str]:
    """Why each finished run of the experiment that is stale is so, by run directory: the report
    leaves these out of its numbers and says why. `damaged`: damaged_reasons' runs, not checked
    again (their records do not read)."""
    digests, reasons = SourceDigests(), {}
    for job in experiment.jobs():
        if is_complete(job.run_dir) and str(job.run_dir) not in damaged:
            stale = _stale(experiment, job, digests)
            if stale:
                reasons[str(job.run_dir)] = stale[1]
    return reasons


def damaged_reasons(
    experiment: Experiment, passed_on: tuple[str, ...] = (), origin: dict | None = None, preset: bool = True
) -> dict[str, str]:
    """Finished runs of the experiment whose records (metrics.json, config.yaml) do not read, by
    run directory: what is wrong and the line that retrains the run. The report leaves them out
    rather than stopping at them (its numbers come from those files; weights are not read).
    preset=False (runs found under paths.runs, afuse.discovered): no preset composes the run's
    command, so the reason says to rerun it with force=true, as `afuse status` then does."""
    reasons = {}
    for job in experiment.jobs():
        damage = result_damage(job.run_dir, weights=False) if is_complete(job.run_dir) else None
        if damage:
            own = (*passed_on, *_own_origin(job, passed_on, origin or {}))
            line = (
                retrain_line(experiment, job, own)
                if preset
                else "rerun the command that made it with force=true"
            )
            reasons[str(job.run_dir)] = f"{DAMAGED}: {job.run_dir}/{damage}; retrain it: {line}"
    return reasons


def _stale(experiment: Experiment, job: Job, digests: SourceDigests) -> tuple[State, str] | None:
    """A finished run whose saved settings are not the ones the preset gives it, or a Fusion run
    whose source adapters were retrained since it was trained on them."""
    saved = read_run_config(job.run_dir / CONFIG)
    if saved is None:
        return None  # no config to compare (a record of an older layout): taken as it is
    group = experiment.groups[job.group]
    # A group found on disk (no preset: afuse.discovered) has no settings of its own to compare.
    diffs = shared_differences(result_config(saved), job_settings(group, job)) if group.settings else []
    if diffs:
        shown = "; ".join(diffs[:4]) + ("; ..." if len(diffs) > 4 else "")
        return State.STALE, f"made with other settings (run -> preset: {shown})"
    retrained = retrained_sources(job.run_dir, saved, digests) if group.command == FUSE else []
    if retrained:
        return State.STALE, stale_sources_note(retrained)
    other_data = (
        data_change_note(read_metrics(job.run_dir), experiment.data_root) if experiment.data_root else None
    )
    if other_data:
        return State.STALE, other_data
    return None


def retrain_line(experiment: Experiment, job: Job, passed_on: tuple[str, ...]) -> str:
    """The command that trains this one job again, replacing its finished result."""
    group = experiment.groups[job.group]
    (line,) = sweep_lines(experiment, group, [job])
    return shell_command(group.command, [*line.overrides, *passed_on, "force=true"], multirun=False)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _read_json(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # present but unreadable (half written): the caller treats it as unknown
    return value if isinstance(value, dict) else {}


def _lock_owner(lock: dict, host: str) -> tuple[bool, str]:
    pid, lock_host = lock.get("pid"), lock.get("host")
    if not isinstance(pid, int):
        return False, "unreadable lock"
    if lock_host and lock_host != host:
        return True, f"pid {pid} on {lock_host} (not checked from {host})"
    alive = _pid_alive(pid)
    return alive, f"pid {pid}" if alive else f"pid {pid} is not running"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user
    return True


def _failure_line(failure: dict) -> str:
    error = str(failure.get("error") or "no error message").strip()
    return error.splitlines()[0] if error else error


# --- what to launch --------------------------------------------------------------------------


def to_launch(states: dict[Job, tuple[State, str]]) -> list[Job]:
    """Jobs a launch should start: not done and not running (failed and incomplete ones resume).
    A damaged finished run is left out: only force=true retrains it (its note gives the command)."""
    return [
        job
        for job, (state, _) in states.items()
        if state not in (State.DONE, State.RUNNING, State.DAMAGED, State.STALE)
    ]


def is_ready(job: Job) -> bool:
    """Whether every run a job needs is complete (stage-2 jobs need their stage-1 adapters)."""
    return all(is_complete(run_dir) for run_dir in job.needs)


# --- printing --------------------------------------------------------------------------------


def format_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def group_summary(experiment: Experiment, states) -> str:
    headers = ["group", "stage", "command", "variant", "jobs", *State]
    rows, totals = [], dict.fromkeys(State, 0)
    for group in experiment.groups.values():
        counts = dict.fromkeys(State, 0)
        for job in group.jobs:
            counts[states[job][0]] += 1
        totals = {s: totals[s] + counts[s] for s in State}
        rows.append(
            [
                group.name,
                str(group.stage),
                group.command,
                group.variant,
                str(len(group.jobs)),
                *(str(counts[s]) for s in State),
            ]
        )
    rows.append(["total", "", "", "", str(len(states)), *(str(totals[s]) for s in State)])
    return format_table(headers, rows)


def shown_dir(run_dir: Path) -> str:
    """A run folder as status and `afuse list runs` show it: absolute, to paste in any shell."""
    return os.path.abspath(run_dir)


NOTE_WIDTH = 60  # longer notes (an error and its fix) are printed in full below the table


def job_table(states, every_job: bool) -> str:
    shown = [
        (job, s, note)
        for job, (s, note) in states.items()
        if every_job or s not in (State.DONE, State.MISSING) or note
    ]
    if not shown:
        return ""
    rows, notes = [], []
    for job, state, note in shown:
        if len(note) > NOTE_WIDTH:
            notes.append(f"[{len(notes) + 1}] {shown_dir(job.run_dir)}:\n    {note}")
            note = f"see [{len(notes)}] below"
        rows.append([str(state), job.group, job.task, str(job.seed), shown_dir(job.run_dir), note])
    table = format_table(["state", "group", "task", "seed", "run dir", "note"], rows)
    return "\n".join([table, *notes])


def launch_section(experiment: Experiment, states, passed_on: tuple[str, ...] = ()) -> str:
    pending = to_launch(states)
    damaged = sum(1 for state, _ in states.values() if state in (State.DAMAGED, State.STALE))
    if not pending:
        return "Nothing to launch." + (
            " Damaged or stale runs: retrain them with their force=true lines above." if damaged else ""
        )
    out = ["To launch what is left (done and running jobs are left out):"]
    for stage in (1, 2):
        stage_jobs = [job for job in pending if job.stage == stage]
        if not stage_jobs:
            continue
        waiting = [job for job in stage_jobs if not is_ready(job)]
        note = f" ({len(waiting)} of these jobs wait for stage-1 runs that are not done)" if waiting else ""
        out.append(f"  stage {stage}{note}:")
        for group in experiment.groups.values():
            if group.stage == stage:
                out += [f"    {line}" for line in launch_lines(experiment, group, stage_jobs, passed_on)]
    everything = shell_command("run", [f"experiment={experiment.name}", *passed_on], multirun=False)
    out.append(f"Or everything in order, stage 2 after stage 1: {everything}")
    return "\n".join(out)


def status_text(
    experiment: Experiment, states, every_job: bool = False, passed_on: tuple[str, ...] = ()
) -> str:
    parts = [
        f"experiment {experiment.name}: model {experiment.model}, runs under {experiment.runs_root}",
        "",
        group_summary(experiment, states),
    ]
    table = job_table(states, every_job)
    if table:
        parts += ["", table]
    missing = sum(1 for s, _ in states.values() if s is State.MISSING)
    if missing and not every_job:
        parts += ["", f"{missing} missing job(s) not listed (status.all=true lists every job)."]
    return "\n".join([*parts, "", launch_section(experiment, states, passed_on)])


def main(cfg: DictConfig) -> None:
    from afuse.discovered import status_text as discovered_status
    from afuse.experiment import preset_requested

    if not preset_requested(cfg):  # no experiment=: every run found under paths.runs
        print(discovered_status(cfg))
        return
    from afuse.report.layout import report_layout

    experiment = load_experiment(cfg)
    report_layout(experiment)  # a mistake in the report section is one in the preset: say it now
    passed_on = passed_on_overrides(("experiment", "status."))  # so the lines shown run the same jobs
    states = job_states(experiment, passed_on, origin=data_origin(cfg))
    print(status_text(experiment, states, every_job=bool(cfg.status.all), passed_on=passed_on))
