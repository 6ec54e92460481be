"""`afuse prepare-data task=<name> data.source=hub|local [data.raw_dir=<dir>] [force=true]`.

Reads the task from the Hugging Face Hub or from its original files under data.raw_dir,
normalises it, carves our train/validation/test splits and writes
<paths.data>/prepared/<task>/{train,validation,test}.parquet + manifest.json.
"""

import logging

from omegaconf import DictConfig

from afuse.config import require_task
from afuse.data.prepare import prepare_task, read_manifest

log = logging.getLogger("afuse")


def main(cfg: DictConfig) -> None:
    prepared = prepare_task(require_task(cfg), cfg.data, cfg.paths, force=bool(cfg.get("force", False)))
    manifest = read_manifest(prepared)
    for split, entry in manifest["splits"].items():
        log.info("  %-10s %7d rows  from %s", split, entry["rows"], entry["from"])
    log.info("  manifest: %s", prepared / "manifest.json")
