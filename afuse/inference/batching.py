"""Inference over a tokenised split, batched by length.

Examples are sorted by token count (longest first, so a batch that does not fit shows at once)
and each batch is padded only to its own longest member: on a split whose lengths vary, most
batches carry little padding. The forward runs under `torch.inference_mode`; the model's
first-token shortcut (the last layer computes only the position the heads read) stays on unless
fusion activations are recorded, which need every token. Results come back in the split's order.
"""

import sys
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from afuse.progress_bars import bar_enabled
from afuse.train.loop import autocast_for


@dataclass
class Inference:
    probabilities: np.ndarray  # (rows, classes) softmax, in the split's order
    loss: float | None  # mean cross-entropy over the rows, where the rows have labels
    recorder: object | None  # fusion runs with record_activations: the ActivationRecorder


def token_counts(dataset) -> np.ndarray:
    """Tokens per example; multiple choice: its longest choice (what its padding costs)."""
    # Through the dataset, not `dataset.data`: a subsampled split (data.max_test_examples) is a
    # `select` over the whole table, and only the dataset applies its indices.
    column = dataset.with_format("arrow")["input_ids"]
    if pa.types.is_list(column.type.value_type):
        return np.array([max(map(len, example)) for example in column.to_pylist()], dtype=np.int64)
    return pc.list_value_length(column).to_numpy(zero_copy_only=False).astype(np.int64)


def length_batches(counts: np.ndarray, batch_size: int) -> list[list[int]]:
    """Row indices in batches of similar length, longest first (a stable sort: ties keep their order)."""
    order = np.argsort(-counts, kind="stable").tolist()
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def _progress(setting, total: int, desc: str):
    return tqdm(
        total=total, desc=desc, unit=" rows", leave=False, disable=not bar_enabled(setting), file=sys.stderr
    )


def infer(
    model,
    dataset,
    collate,
    batch_size: int,
    device: torch.device,
    record_activations: bool = False,
    progress="auto",
    desc: str = "evaluating",
) -> Inference:
    """Class probabilities for every row of `dataset` (and the mean loss where labels are >= 0)."""
    model.eval()
    batches = length_batches(token_counts(dataset), batch_size)
    loader = DataLoader(dataset, batch_sampler=batches, collate_fn=collate)
    autocast, _ = autocast_for(device, "auto")
    probabilities, loss_sum, labelled = [None] * len(batches), 0.0, 0
    recorder_scope = model.capture_fusion_activations() if record_activations else nullcontext()
    bar = _progress(progress, len(dataset), desc)
    with recorder_scope as recorder, torch.inference_mode():
        for i, batch in enumerate(loader):
            labels = batch.pop("labels", None)
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            with autocast:
                logits = model(**batch).float()
            probabilities[i] = logits.softmax(-1).cpu()
            if labels is not None and bool((labels >= 0).all()):
                labels = labels.to(device)
                loss_sum += float(torch.nn.functional.cross_entropy(logits, labels, reduction="sum"))
                labelled += len(labels)
            bar.update(len(batches[i]))
    bar.close()
    classes = probabilities[0].shape[-1] if batches else 0
    ordered = np.zeros((len(dataset), classes), dtype=np.float32)
    for rows, probs in zip(batches, probabilities, strict=True):
        ordered[rows] = probs.numpy()
    return Inference(
        probabilities=ordered,
        loss=loss_sum / labelled if labelled else None,
        recorder=recorder,
    )
