"""`afuse export run=<run dir> out=<dir>`: a finished run as AdapterHub files (afuse/export.py)."""

from omegaconf import DictConfig, OmegaConf

from afuse.errors import ConfigError
from afuse.export import MANIFEST, export_run


def main(cfg: DictConfig) -> None:
    for key in ("run", "out"):
        if OmegaConf.is_missing(cfg, key):
            raise ConfigError(
                f"afuse export needs {key}=<...>, e.g. "
                "afuse export run=runs/stage2/minilm/dynamic_pfeiffer_rf16/rte/seed1 out=export/rte"
            )
    export = export_run(cfg.run, cfg.out, cfg.with_encoder)
    print(f"afuse export: wrote {export.out} ({MANIFEST} lists it). Load it with adapters 1.3.0:")
    print(export.loading_code())
