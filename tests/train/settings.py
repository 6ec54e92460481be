"""Trainer settings shared by the loop tests (every key the loop reads, CPU, no progress bar)."""

from omegaconf import OmegaConf


def trainer_cfg(**overrides):
    base = dict(
        lr=0.05,
        max_epochs=4,
        patience=10,
        batch_size=8,
        eval_batch_size=16,
        grad_accum_steps=2,
        weight_decay=0.0,
        warmup_ratio=0.1,
        max_grad_norm=1.0,
        amp="auto",
        device="cpu",
        num_threads=None,
        log_every_steps=5,
        progress_bar=False,
    )
    return OmegaConf.create({**base, **overrides})
