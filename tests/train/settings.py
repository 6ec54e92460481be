"""Trainer settings of the loop tests: conf/trainer/default.yaml with what a seconds-long CPU run
of a stand-in model needs."""

from tests.from_conf import trainer_settings

LOOP_TEST_SETTINGS = dict(
    lr=0.05,  # the stand-in model learns within a few epochs
    max_epochs=4,
    patience=10,  # no early stop unless a test asks for one
    batch_size=8,
    eval_batch_size=16,
    grad_accum_steps=2,  # exercise accumulation and the warm-up schedule
    warmup_ratio=0.1,
    device="cpu",
    log_every_steps=5,
    progress_bar=False,
)


def trainer_cfg(**overrides):
    return trainer_settings(**{**LOOP_TEST_SETTINGS, **overrides})
