"""Hydra compositions remembered between runs of afuse, keyed by everything they read.

`afuse status`, `run` and `report` compose one config per job group of a preset (afuse.experiment)
to learn its run directories; Hydra re-reads and merges every YAML file each time (~0.1-0.3 s per
group), most of what `afuse status` costs. A composition depends only on the config files and the
overrides, so it is stored under a key made of those: the overrides, and the bytes of every YAML
file under conf/ and the search-path folders given to Hydra (a changed preset or option file is a
new key), plus Hydra's and afuse's versions. Stored unresolved, as Hydra returned it.

    cache = ComposeCache(search_dirs)
    cfg = cache.get(config_name, overrides) or cache.put(config_name, overrides, compose(...))
    cache.save()

The store is one JSON file per config-files hash in $AFUSE_CACHE_DIR (default
~/.cache/afuse/compose); a file that cannot be read or written is ignored: composing again is
always correct.
"""

import hashlib
import json
import logging
import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from afuse import __version__
from afuse.atomic import atomic_write_json
from afuse.paths import conf_dir

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "afuse" / "compose"
    return Path(os.environ.get("AFUSE_CACHE_DIR") or default)


def config_files_hash(search_dirs: list[Path]) -> str:
    """A digest of every YAML file Hydra could read: conf/ and the extra search-path folders."""
    import hydra

    digest = hashlib.sha256(f"afuse {__version__} hydra {hydra.__version__}".encode())
    for root in [conf_dir(), *search_dirs]:
        for path in sorted(Path(root).rglob("*.yaml")):
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


class ComposeCache:
    def __init__(self, search_dirs: list[Path]):
        self.path = cache_dir() / f"{config_files_hash(search_dirs)}.json"
        self.entries = self._read()
        self.changed = False

    def _read(self) -> dict:
        try:
            entries = json.loads(self.path.read_text())
            return entries if isinstance(entries, dict) else {}
        except (OSError, ValueError):
            return {}

    @staticmethod
    def key(config_name: str, overrides: list[str]) -> str:
        return json.dumps([config_name, *overrides])

    def get(self, config_name: str, overrides: list[str]) -> DictConfig | None:
        stored = self.entries.get(self.key(config_name, overrides))
        if not isinstance(stored, dict):  # none, or an entry of another shape: compose again
            return None
        cfg = OmegaConf.create(stored)
        OmegaConf.set_struct(cfg, True)  # as Hydra returns it
        return cfg

    def put(self, config_name: str, overrides: list[str], cfg: DictConfig) -> DictConfig:
        self.entries[self.key(config_name, overrides)] = OmegaConf.to_container(cfg, resolve=False)
        self.changed = True
        return cfg

    def save(self) -> None:
        if not self.changed:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.path, self.entries)
        except Exception as exc:  # a read-only home, a full disk: composing again next time is fine
            log.debug("could not store compositions in %s: %s", self.path, exc)
