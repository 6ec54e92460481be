"""Whether a Fusion run's source adapters are still the ones it was trained on.

A Fusion run records the sha256 of each source's adapter weights file (metrics.json,
SOURCE_DIGESTS); a source retrained since (force=true) makes the run stale for `afuse status` and
the report, a rerun of its command refuses to skip it, and evaluate / export refuse to rebuild it.
"""

import hashlib
import json
from pathlib import Path

from omegaconf.errors import OmegaConfBaseException

from afuse.adapterhub_files import adapter_weights_file
from afuse.errors import AfuseError, ConfigError
from afuse.fusion_sources import Source, located_sources
from afuse.result_check import DamagedResultError
from afuse.runs import METRICS

# metrics.json of a Fusion run: sha256 of each source's adapter weights file, as it was trained on them.
SOURCE_DIGESTS = "source_sha256"


def source_digests(sources: list[Source]) -> dict[str, str]:
    """sha256 of each source's adapter weights file (what a Fusion run trains on; metrics.json)."""
    digests = SourceDigests()
    current = {source.name: digests.of(source) for source in sources}
    return {name: digest for name, digest in current.items() if digest is not None}


class SourceDigests:
    """sha256 of source adapters' weights files, each file read once while it is unchanged:
    `afuse status` checks every Fusion run of a preset, and they fuse the same few adapters."""

    def __init__(self) -> None:
        self._known: dict[tuple, str] = {}

    def of(self, source: Source) -> str | None:
        """The digest of the source's weights file; None when it has none (being retrained)."""
        path = adapter_weights_file(source.adapter_dir)
        if path is None:
            return None
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in self._known:
            with open(path, "rb") as handle:
                self._known[key] = hashlib.file_digest(handle, "sha256").hexdigest()
        return self._known[key]


def changed_sources(metrics: dict, sources: list[Source], digests: SourceDigests | None = None) -> list[str]:
    """The sources whose adapter weights differ from those the Fusion run (its metrics.json) was
    trained on: retrained since. Runs made before afuse recorded the digests, and sources whose
    file is absent now (a forced retrain holds it aside), are not counted."""
    digests = digests or SourceDigests()
    recorded = metrics.get(SOURCE_DIGESTS) or {}
    by_name = {source.name: source for source in sources}
    changed = []
    for name, digest in recorded.items():
        current = digests.of(by_name[name]) if name in by_name else None
        if current is not None and current != digest:
            changed.append(name)
    return changed


def retrained_sources(run_dir: Path, saved: dict, digests: SourceDigests) -> list[str]:
    """The sources of the finished Fusion run in `run_dir` (`saved`: its config.yaml) retrained
    since it was trained on them; empty when its metrics.json records no digests (older runs)."""
    metrics = json.loads((Path(run_dir) / METRICS).read_text())
    if not metrics.get(SOURCE_DIGESTS):
        return []
    try:
        sources = located_sources(Path(run_dir), saved)
    except (AfuseError, OmegaConfBaseException):  # a config afuse no longer reads: nothing to locate
        return []
    return changed_sources(metrics, sources, digests)


def refuse_retrained_sources(run_dir: Path, sources: list[Source]) -> None:
    """A finished Fusion run over source adapters retrained since is not skipped as done: its
    result describes adapters that no longer exist (afuse status shows it as stale)."""
    changed = changed_sources(json.loads((Path(run_dir) / METRICS).read_text()), sources)
    if changed:
        raise ConfigError(
            f"{run_dir} holds a finished Fusion, but its {stale_sources_note(changed)}; rerun with "
            "force=true to train it on the current adapters, or set paths.runs to another directory"
        )


def stale_sources_note(names: list[str]) -> str:
    """What `afuse status` and the report say of a Fusion run whose sources were retrained."""
    return (
        f"source adapter(s) {', '.join(names)} were retrained since this Fusion was trained on them "
        "(their weights' sha256 differs from its metrics.json)"
    )


def check_source_digests(run_dir: Path, metrics: dict, sources: list[Source]) -> None:
    """Refuse to rebuild a Fusion run over source adapters other than those it was trained on (a
    source retrained with force=true since): that model was never trained. Runs made before
    afuse recorded the digests are not checked."""
    changed = changed_sources(metrics, sources)
    if changed:
        raise DamagedResultError(
            f"{run_dir}: the adapter of source(s) {', '.join(changed)} changed since this Fusion was "
            "trained on it (retrained?), so the trained model cannot be rebuilt; rerun the Fusion with "
            "force=true to train it on the current adapters"
        )


def check_fusion_file(run_dir: Path, file_sources: list[str], sources: list[Source]) -> None:
    """The run's fusion.safetensors must be over the sources its config finds, in that order (a
    file copied from another Fusion run would rebuild a fusion over other adapters)."""
    names = [source.name for source in sources]
    if list(file_sources) != names:
        raise DamagedResultError(
            f"{run_dir}: its fusion.safetensors is over {list(file_sources)}, but the run fuses {names} "
            "(a file of another run?); rerun the Fusion with force=true"
        )
