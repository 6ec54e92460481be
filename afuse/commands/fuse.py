"""`afuse fuse target=rte`: stage 2, AdapterFusion over frozen adapters for a target task."""

from omegaconf import DictConfig

from afuse.config import specialise_data
from afuse.fusion_sources import (
    check_sites,
    check_source_adapters,
    resolve_mt_a,
    resolve_st_a_sources,
)
from afuse.run_identity import FUSE, MT_A, requested_sources, run_dir, variant
from afuse.source_digests import refuse_retrained_sources
from afuse.train.run_lifecycle import run_stage


def main(cfg: DictConfig) -> None:
    target = cfg.target  # `???` until given: reading it first says "no target given"
    # Its task config: an unknown target fails here with the list of valid ones. A rerun from a
    # run's config.yaml has it recorded, so a researcher's own task needs no search path then.
    cfg.task.get("name")
    specialise_data(cfg, target)
    # In the order they are fused, which config.yaml records: any listed order is the same run.
    if cfg.fusion.sources:
        cfg.fusion.sources = requested_sources(cfg)
    where, name = run_dir(cfg, FUSE), variant(cfg, FUSE)  # an unknown `adapters` fails here
    if cfg.adapters == MT_A:
        mt_run, sources = resolve_mt_a(cfg)
        encoder_weights = mt_run / "encoder.safetensors"
    else:
        sources, encoder_weights = resolve_st_a_sources(cfg), None
    check_sites(cfg, sources)
    check_source_adapters(cfg, sources)

    def train() -> dict:
        from afuse.train.fusion_stage import train_fusion  # torch: only for a run that trains

        return train_fusion(cfg, where, sources, name, encoder_weights)

    run_stage(cfg, where, train, check_inputs=lambda: refuse_retrained_sources(where, sources))
