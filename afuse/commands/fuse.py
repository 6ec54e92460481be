"""`afuse fuse target=rte`: stage 2, AdapterFusion over frozen adapters for a target task."""

from omegaconf import DictConfig

from afuse.config import specialise_data, task_config
from afuse.errors import ConfigError
from afuse.fusion_sources import requested_sources, resolve_mt_a, resolve_st_a_sources, source_positions
from afuse.runs import adapter_variant, fusion_variant, stage2_dir
from afuse.train.run_lifecycle import run_stage


def main(cfg: DictConfig) -> None:
    task_config(cfg.target)  # an unknown target fails here with the list of valid ones
    specialise_data(cfg, cfg.target)
    if cfg.adapters == "st_a":
        sources, encoder_weights, source_variant = (
            resolve_st_a_sources(cfg),
            None,
            adapter_variant(cfg.adapter),
        )
    elif cfg.adapters == "mt_a":
        mt_run, sources = resolve_mt_a(cfg)
        encoder_weights, source_variant = mt_run / "encoder.safetensors", "mt_a"
    else:
        raise ConfigError(f"adapters={cfg.adapters!r} is not known; valid: st_a, mt_a")
    positions = source_positions(sources, str(cfg.fusion.get("sites", "all")))
    variant = fusion_variant(
        cfg.fusion.kind, source_variant, requested_sources(cfg), cfg.fusion.skip_last_layer, positions
    )
    run_dir = stage2_dir(cfg.paths.runs, cfg.model.name, variant, cfg.target, cfg.seed)

    def train() -> dict:
        from afuse.train.fusion_stage import train_fusion  # torch: only for a run that trains

        return train_fusion(cfg, run_dir, sources, variant, encoder_weights)

    run_stage(cfg, run_dir, train)
