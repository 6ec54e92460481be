"""Callables the training loop runs before each optimizer step: none in real runs.

Each is called as `hook(step, losses)`: `step` is the optimizer step about to run (1-based,
counted over the whole run, as in the logs) and `losses` that step's {"loss", "extra_loss"} as
floats, which the loop checks for NaN / inf after the hooks (a hook may change them). The
reliability tests register one to make a real run fail at a chosen step
(tests/reliability/faults.py). This module imports nothing, so a process can register a hook
at start-up without loading torch.
"""

from collections.abc import Callable

StepHook = Callable[[int, dict], None]

BEFORE_STEP: list[StepHook] = []
