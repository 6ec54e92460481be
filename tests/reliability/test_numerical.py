"""Issue 8, item 6: a NaN or inf loss stops the run with the step, the loss and the learning rate
in the message, keeps the last good checkpoint, and `afuse status` shows the run as failed."""

import pytest

from afuse.runs import FAILED, is_complete, read_metrics

from .harness import checkpoint_state, overrides, results, run_dir, status_note, status_totals, write_preset


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_a_non_finite_loss_fails_the_run_keeps_its_checkpoint_and_shows_in_status(
    value, work, reference, afuse_inproc
):
    args = overrides(work, reference.raw_dir)
    run = run_dir(work)
    diverged = afuse_inproc("train-adapter", *args, fault=f"{value}@12")  # in epoch 2
    assert diverged.code == 6, diverged.out
    [line] = diverged.error_lines()
    lr = 0.01 * (24 - 11) / 24  # linear decay over 24 steps, at step 12
    assert f"loss became {value}" in line and f"at epoch 2, step 12, learning rate {lr:.3g}" in line
    assert checkpoint_state(run)["global_step"] == 8  # the end of epoch 1: the last good one
    assert not is_complete(run) and f"loss became {value}" in (run / FAILED).read_text()

    preset = [*write_preset(work, ["cb"], [1]), *args[-4:]]
    status = afuse_inproc("status", *preset)
    assert status_totals(status.out)["failed"] == 1, status.out
    state, note = status_note(status.out, run)
    assert state == "failed" and note.startswith(f"loss became {value}") and "trainer.lr" in note, status.out

    resumed = afuse_inproc("train-adapter", *args)  # the fault was passing: resume and finish
    assert resumed.code == 0 and "epoch 2, step 0 of 8" in resumed.out, resumed.out
    assert results(read_metrics(run)) == results(reference.metrics)
    assert not (run / FAILED).exists()
    assert status_totals(afuse_inproc("status", *preset).out)["done"] == 1


def test_a_learning_rate_that_blows_up_stops_at_the_first_nan(work, reference, afuse_inproc):
    """No hook: lr 1e30 makes the tiny model's loss NaN at its second step."""
    diverged = afuse_inproc("train-adapter", *overrides(work, reference.raw_dir, "trainer.lr=1e30"))
    assert diverged.code == 6, diverged.out
    [line] = diverged.error_lines()
    assert "loss became nan" in line and "step 2, learning rate 9.58e+29" in line
    assert not is_complete(run_dir(work))
