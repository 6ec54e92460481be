"""How much of a task the frozen encoder already carries: a linear probe on its final features.

    python experiments/frozen_probe.py runs/stage1/minilm/pfeiffer_rf16/rte/seed1

Reads a finished single-task run's config.yaml (model, task, data settings), encodes the task's
train and test splits with the frozen pretrained encoder (no adapter), and fits an L2-regularised
logistic regression on the first-token feature (what afuse's heads read) and on the mean over
tokens (how sentence-embedding models such as all-MiniLM-L6-v2 were trained). Prints test
accuracy per feature and regularisation strength, beside the majority-class rate. A probe near
the majority rate means the task is not linearly readable from the frozen model: whatever an
adapter reaches, it has to learn. Single-sentence and pair tasks only.
"""

import argparse
from pathlib import Path

import torch
from omegaconf import OmegaConf

from afuse.modeling import load_backbone
from afuse.train.single_task import build_data

STRENGTHS = (1e-3, 1e-2, 1e-1)


@torch.no_grad()
def encode(encoder, dataset, collate, batch_size=64):
    """(first-token features, mean-over-tokens features, labels) of one split."""
    first, mean, labels = [], [], []
    for start in range(0, len(dataset), batch_size):
        batch = collate([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
        mask = batch["attention_mask"]
        inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        hidden = encoder(**inputs).last_hidden_state
        first.append(hidden[:, 0])
        mean.append((hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True))
        labels.append(batch["labels"])
    return torch.cat(first), torch.cat(mean), torch.cat(labels)


def probe_accuracy(train_x, train_y, test_x, test_y, strength: float) -> float:
    """Standardised features, multinomial logistic regression fitted with L-BFGS."""
    centre, scale = train_x.mean(0), train_x.std(0) + 1e-6
    train_x, test_x = (train_x - centre) / scale, (test_x - centre) / scale
    classes = int(train_y.max()) + 1
    weight = torch.zeros(train_x.shape[1], classes, requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=500)

    def closure():
        optimizer.zero_grad()
        loss = (
            torch.nn.functional.cross_entropy(train_x @ weight + bias, train_y)
            + strength * weight.square().sum()
        )
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return ((test_x @ weight + bias).argmax(1) == test_y).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a finished single-task run (its config.yaml is read)")
    args = parser.parse_args()
    cfg = OmegaConf.load(args.run_dir / "config.yaml")
    if cfg.task.kind == "multiple_choice":
        parser.error(f"{cfg.task.name} is a multiple-choice task; the probe handles single and pair tasks")
    encoder, tokenizer, tokenizer_id = load_backbone(cfg.model)
    encoder.eval()
    data = build_data(cfg, tokenizer, tokenizer_id)
    train = encode(encoder, data.splits["train"], data.collate)
    test = encode(encoder, data.splits["test"], data.collate)
    majority = torch.bincount(test[2]).max().item() / len(test[2])
    print(f"{cfg.task.name} on frozen {cfg.model.name}: train {len(train[2])}, test {len(test[2])}")
    print(f"majority-class rate on test: {majority:.3f}")
    for name, index in (("first token", 0), ("mean over tokens", 1)):
        scores = [probe_accuracy(train[index], train[2], test[index], test[2], s) for s in STRENGTHS]
        print(
            f"{name:>16}: "
            + ", ".join(f"L2 {s:g} -> {a:.3f}" for s, a in zip(STRENGTHS, scores, strict=True))
        )


if __name__ == "__main__":
    main()
