"""Shared by afuse_step.py and adapters_step.py (which runs beside AdapterHub's `adapters`, so this
imports nothing of afuse): the BERT-base shape, random inputs, and the timing of training steps.

A step is forward, backward and AdamW under bf16 autocast (on CUDA), timed with CUDA events
around each step after warm-up; the median is reported, and the peak memory of the steps.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

BERT_BASE = dict(  # bert-base-uncased's shape; random weights (timing needs no pretrained ones)
    vocab_size=30522,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    max_position_embeddings=512,
)
QUICK = dict(BERT_BASE, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128)


def arguments(description: str) -> argparse.ArgumentParser:
    """The options both step scripts take (the same settings on both sides of a comparison)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--fuse", type=int, nargs="*", default=[0, 2, 8, 16, 32, 64])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--reduction-factor", type=float, default=16)
    ap.add_argument("--quick", action="store_true", help="a 2-layer, 64-wide encoder (CPU smoke test)")
    ap.add_argument("--deadline", type=float, default=None, help="skip settings after this many seconds")
    return ap


def random_batch(batch: int, length: int, device: torch.device, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(1000, 30000, (batch, length), generator=g)
    y = torch.randint(0, 2, (batch,), generator=g)
    return x.to(device), torch.ones_like(x).to(device), y.to(device)


def time_steps(step, device: torch.device, steps: int, warmup: int) -> dict:
    """Median seconds of `step()` and the peak memory (bytes) it allocated on the device."""
    cuda = device.type == "cuda"
    for _ in range(warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    seconds = []
    for _ in range(steps):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            end.record()
            end.synchronize()
            seconds.append(start.elapsed_time(end) / 1000)
        else:
            t0 = time.perf_counter()
            step()
            seconds.append(time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated() if cuda else 0
    return {"step_s": statistics.median(seconds), "peak_bytes": peak}


def autocast(device: torch.device):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def step_flops(cfg: dict, batch: int, length: int, trainable_fraction_of_encoder: float = 0.0) -> float:
    """Model FLOPs of one training step of a frozen encoder: the forward (2·params·tokens for the
    dense layers plus 4·L·h per token for attention scores and mixing) and the backward to the
    activations (the same again); weight gradients only for the trainable share (adapters, fusion
    and heads are counted by the caller through that share; they are ~1-5% of the encoder's)."""
    h, layers, ffn = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["intermediate_size"]
    tokens = batch * length
    dense = layers * (4 * h * h + 2 * h * ffn)
    forward = 2 * dense * tokens + layers * 4 * length * h * tokens
    return forward * (2 + trainable_fraction_of_encoder)


def line(impl: str, n: int, result: dict, trainable: int, extra: str = "") -> str:
    """One result line, in the anchor's format plus memory."""
    return (
        f"{impl} fuse_n={n} step_s={result['step_s']:.5f} trainable={trainable} "
        f"peak_mib={result['peak_bytes'] / 2**20:.0f}{extra}"
    )
