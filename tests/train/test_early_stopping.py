"""Early stopping: which epoch is best, and when patience runs out.

Each case replays a scripted validation history through the loop's bookkeeping, with a
parameter whose value is the epoch number, so the kept snapshot shows which epoch was kept.
"""

import torch

from afuse.train.checkpoint import LoopState
from afuse.train.loop import _record_epoch


def replay(history, patience=3):
    """Feed (accuracy, loss) pairs epoch by epoch, as fit does; stop when patience runs out."""
    state, param = LoopState(), torch.nn.Parameter(torch.zeros(1))
    named, best = {"p": param}, {"p": torch.zeros(1)}
    for accuracy, loss in history:
        if state.epochs_without_gain >= patience:
            break
        with torch.no_grad():
            param.fill_(state.epoch + 1)
        _record_epoch(state, {"accuracy": accuracy, "loss": loss}, named, best, logger=None)
        state.epoch += 1
    return state, int(best["p"].item())


def test_accuracy_plateau_with_falling_loss_keeps_training():
    # The RTE-on-MiniLM curve that accuracy-only patience 3 stopped after epoch 5.
    history = [(0.494, 0.6922), (0.542, 0.6895), (0.542, 0.6879), (0.538, 0.6852), (0.542, 0.6840)]
    state, kept = replay(history + [(0.60, 0.6700)])
    assert state.epoch == 6 and state.epochs_without_gain == 0
    assert (state.best_epoch, kept) == (6, 6)


def test_the_first_epoch_at_the_best_accuracy_is_kept():
    state, kept = replay([(0.50, 0.70), (0.60, 0.69), (0.60, 0.65), (0.55, 0.60)])
    assert (state.best_epoch, kept) == (2, 2)
    assert state.epochs_without_gain == 0  # epochs 3 and 4 lowered the loss


def test_higher_accuracy_wins_even_at_a_higher_loss():
    state, kept = replay([(0.60, 0.60), (0.70, 0.65)])
    assert (state.best_epoch, kept) == (2, 2)


def test_no_better_accuracy_and_no_lower_loss_runs_out_of_patience():
    history = [(0.60, 0.60)] + [(0.55, 0.61 + i / 100) for i in range(10)]
    state, kept = replay(history, patience=3)
    assert state.epoch == 4 and state.epochs_without_gain == 3
    assert (state.best_epoch, kept) == (1, 1)


def test_a_new_lowest_loss_resets_patience_but_keeps_the_best_epoch():
    losses = [0.60, 0.62, 0.63, 0.59, 0.61, 0.62, 0.63]
    history = [(0.60, losses[0])] + [(0.55, loss) for loss in losses[1:]]
    state, kept = replay(history, patience=3)
    assert [h["epoch"] for h in state.history] == [1, 2, 3, 4, 5, 6, 7]
    assert state.epochs_without_gain == 3  # epoch 4's lower loss reset it; 5-7 made no progress
    assert (state.best_epoch, kept) == (1, 1)
