"""Our three splits from a source's official ones: seeded, stratified carving.

Policy (the paper reports development-set accuracy):
  test        <- the official dev set
  validation  <- a seeded, stratified slice of train (data.validation_fraction, at most
                 data.validation_max_examples), for early stopping
  train       <- the rest of train

Where a source lacks a split its task config declares how it is carved, e.g. BoolQ's local copy
has only the official dev set:

    carve:
      train: {from: test, fraction: 0.7}    # 70% of the official dev (stratified) -> our train

Carving is stratified by label (by correct choice for multiple choice) and seeded by
data.split_seed only, so every run seed sees the same splits. Row order is kept.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from afuse.data.normalize import plain
from afuse.errors import ConfigError


@dataclass
class CarveRule:
    split: str  # the split carved out
    source: str  # the split it is taken from (what remains stays there)
    fraction: float
    max_examples: int | None = None

    def size(self, available: int) -> int:
        wanted = round(self.fraction * available)
        if self.fraction > 0 and available >= 2:
            wanted = max(wanted, 1)  # a tiny split still gets one row: early stopping needs some
        if self.max_examples is not None:
            wanted = min(wanted, self.max_examples)
        return min(wanted, available - 1) if available >= 2 else 0  # leave the source at least one row


def stratified_mask(labels: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A boolean mask picking `size` rows, each label's share as close to its share in `labels`
    as whole rows allow (largest-remainder rounding)."""
    classes, counts = np.unique(labels, return_counts=True)
    quotas = counts * size / len(labels)
    take = np.floor(quotas).astype(int)
    by_remainder = np.argsort(-(quotas - take), kind="stable")
    take[by_remainder[: size - take.sum()]] += 1
    mask = np.zeros(len(labels), dtype=bool)
    for cls, k in zip(classes, take, strict=True):
        mask[rng.choice(np.flatnonzero(labels == cls), size=k, replace=False)] = True
    return mask


def carve(frame: pd.DataFrame, rule: CarveRule, seed: int, salt: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(carved, rest) of `frame`. `salt` keeps the draws of different rules independent."""
    rng = np.random.default_rng([seed, salt])
    mask = stratified_mask(frame["label"].to_numpy(), rule.size(len(frame)), rng)
    return frame[mask].reset_index(drop=True), frame[~mask].reset_index(drop=True)


def configured_rules(carve_cfg: DictConfig | None, task: str) -> list[CarveRule]:
    rules = []
    for split, spec in (plain(carve_cfg) or {}).items():
        if split not in ("train", "validation", "test") or "from" not in spec or "fraction" not in spec:
            raise ConfigError(
                f"task {task}: carve.{split} must look like `{{from: <split>, fraction: 0.7}}` "
                "with train, validation or test as split names"
            )
        rules.append(CarveRule(split, spec["from"], float(spec["fraction"]), spec.get("max_examples")))
    return rules


def validation_rule(data_cfg: DictConfig) -> CarveRule:
    return CarveRule(
        "validation", "train", float(data_cfg.validation_fraction), data_cfg.get("validation_max_examples")
    )


def carve_splits(
    official: dict[str, pd.DataFrame], carve_cfg: DictConfig | None, data_cfg: DictConfig, task: str
) -> tuple[dict[str, pd.DataFrame], list[dict]]:
    """Our train/validation/test from the official splits, and a record of every carving done."""
    splits = dict(official)
    rules = configured_rules(carve_cfg, task)
    if "validation" not in splits and not any(rule.split == "validation" for rule in rules):
        rules.append(validation_rule(data_cfg))
    applied = []
    for salt, rule in enumerate(rules):
        if rule.source not in splits:
            raise ConfigError(
                f"task {task}: no {rule.source!r} split to carve {rule.split} from; name its file in the task's "
                f"files (local) or splits (hub), or carve it, e.g. carve: {{{rule.source}: {{from: test, fraction: 0.7}}}}"
            )
        available = len(splits[rule.source])
        splits[rule.split], splits[rule.source] = carve(
            splits[rule.source], rule, int(data_cfg.split_seed), salt
        )
        applied.append(
            {
                "split": rule.split,
                "from": rule.source,
                "rule": "seeded stratified by label",
                "fraction": rule.fraction,
                "max_examples": rule.max_examples,
                "seed": int(data_cfg.split_seed),
                "from_rows": available,
                "rows": len(splits[rule.split]),
            }
        )
    missing = [split for split in ("train", "validation", "test") if split not in splits]
    if missing:
        raise ConfigError(
            f"task {task}: no {', '.join(missing)} split; declare it in files/splits or carve it"
        )
    return splits, applied
