"""What a preset says to do when one Fusion run, typed with `experiment=<preset>`, lacks its sources.

A single `afuse fuse experiment=X target=T` gets the preset's model, data and paths but none of
its groups' settings: the default 16 sources, the default fusion and learning rate. Its stage-1
sources, trained by hand with the plain lines, would lack their group's settings too, and the
preset would count them as stale. So where the preset has a job for the run or its sources, the
lines printed are the preset's own (its groups' overrides, as `afuse status` gives them).
"""

from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from afuse.errors import AfuseError
from afuse.given_overrides import keys_given, searchpath, starting_with
from afuse.run_identity import FUSE, run_dir
from afuse.runs import is_complete

# Overrides of the fuse line that the preset's lines repeat: where runs and data are, the model,
# and where a researcher's own configs are. Group settings (adapter., fusion., trainer.) are the
# preset's own and are not carried over from the fuse line.
CARRIED_PREFIXES = ("model=", "data.", "paths.")


@dataclass(frozen=True)
class PresetAdvice:
    text: str  # the preset's lines, or "" where it has no job for the run or any missing source
    not_in_preset: tuple[Path, ...]  # missing source runs that are no job of the preset
    run_line: str  # how to run the whole preset


def preset_advice(cfg: DictConfig, missing: list[Path]) -> PresetAdvice | None:
    """The preset's lines for this fuse run and its `missing` source runs; None when no preset was
    requested (or it does not load: its own error then comes from `afuse status`)."""
    from hydra.core.hydra_config import HydraConfig

    # Loaded here, not at import: a preset's machinery is only needed on this error path.
    from afuse.experiment import launch_lines, load_experiment, preset_requested, shell_command

    if not HydraConfig.initialized() or not preset_requested(cfg):
        return None
    try:
        experiment = load_experiment(cfg)
    except AfuseError:
        return None
    passed_on = (*starting_with(CARRIED_PREFIXES), *searchpath())
    parts = []
    fusion_job = _preset_fusion_job(experiment, cfg)
    if fusion_job is not None:
        group = experiment.groups[fusion_job.group]
        parts.append(
            f"This is not the preset's Fusion run for {cfg.target}: experiment={experiment.name} fuses it "
            f"in group {group.name} over {len(group.sources)} sources, with that group's settings:\n"
            f"  {launch_lines(experiment, group, [fusion_job], passed_on)[0]}"
        )
        missing = [d for d in fusion_job.needs if not is_complete(d)]
    lines, rest = _source_lines(experiment, missing, passed_on)
    if lines:
        parts.append(
            "Train the sources first with the preset's settings:\n" + "\n".join(f"  {x}" for x in lines)
        )
    everything = shell_command("run", [f"experiment={experiment.name}", *passed_on], multirun=False)
    return PresetAdvice("\n".join(parts), rest, f"(`{everything}` runs every job of the preset in order)")


def _source_lines(experiment, missing: list[Path], passed_on) -> tuple[list[str], tuple[Path, ...]]:
    """The preset's launch lines for the `missing` runs it has jobs for, and the runs it has none for."""
    from afuse.experiment import launch_lines

    by_dir = {_same(job.run_dir): job for job in experiment.jobs(stage=1)}
    jobs = [by_dir[_same(d)] for d in missing if _same(d) in by_dir]
    lines = [
        line
        for group in experiment.groups.values()
        for line in launch_lines(experiment, group, [j for j in jobs if j.group == group.name], passed_on)
    ]
    return lines, tuple(d for d in missing if _same(d) not in by_dir)


def _preset_fusion_job(experiment, cfg: DictConfig):
    """The preset's job for this target and seed when this run is not it (another folder: other
    sources, fusion or adapters); None when the run is the preset's job or the preset has none."""
    if keys_given() & {
        "fusion.sources",
        "adapters",
    }:  # a composition of the researcher's own: its sources are the ones to train
        return None
    own = _same(run_dir(cfg, FUSE))
    jobs = [j for j in experiment.jobs(stage=2) if j.task == str(cfg.target) and j.seed == int(cfg.seed)]
    if not jobs or any(_same(j.run_dir) == own for j in jobs):
        return None
    return jobs[0]


def _same(path: Path) -> Path:
    return Path(path).resolve()
