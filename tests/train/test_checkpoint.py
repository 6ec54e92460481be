"""A checkpoint whose state.json reads as JSON but is not what afuse writes (another version's
loop state, a hand edit) is refused as damaged, never a traceback."""

import json

import pytest
import torch

from afuse.errors import CorruptCheckpointError
from afuse.train.checkpoint import LoopState, load_checkpoint, save_checkpoint


def state_json(checkpoint, change) -> None:
    path = checkpoint / "state.json"
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


@pytest.mark.parametrize(
    "change",
    [
        lambda meta: [meta],  # not an object
        lambda meta: {**meta, "sha256": ["trainable.safetensors"]},  # sha256 not a mapping
        lambda meta: {**meta, "loop": {**meta["loop"], "phase": 2}},  # a field this afuse lacks
        lambda meta: {**meta, "loop": None},
    ],
    ids=["list", "sha256-list", "unknown-loop-field", "loop-null"],
)
def test_a_state_json_that_is_not_a_checkpoints_is_refused_as_damaged(change, tmp_path):
    params = {"w": torch.ones(2)}
    checkpoint = save_checkpoint(tmp_path, LoopState(epoch=1), params, params, {"step": 1})
    assert load_checkpoint(checkpoint).state.epoch == 1
    state_json(checkpoint, change)
    with pytest.raises(CorruptCheckpointError) as refused:
        load_checkpoint(checkpoint)
    assert str(checkpoint) in str(refused.value) and "force=true" in str(refused.value)
