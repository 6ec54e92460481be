"""GPU check, part 1: afuse's numerics on the device against the CPU and against the naive fusion.

For ST-A, Houlsby, Fusion (N = 2 and 16; Houlsby sources at both sites) and MT-A on a small random BERT: logits and gradients of
every trainable parameter on the device (fp32, TF32 off) against the same model on the CPU; the
fast fusion layer against the naive reference (afuse/modeling/fusion_reference.py) on the device;
the loss under bf16 autocast against fp32. Dropout is off (eval mode) so that both sides compute
the same function; gradients still flow. Then afuse's training loop with trainer.cuda_graphs
against the same loop run eagerly (graphed_training.py).

    python experiments/gpu/correctness.py --device cuda --out correctness.json
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from transformers import BertConfig, BertModel

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from afuse.modeling import AdapterSpec, AfuseModel, FusionSpec  # noqa: E402
from afuse.modeling.adapters import Bottleneck  # noqa: E402
from afuse.modeling.fusion import FusionLayer, fuse, stack_adapters  # noqa: E402
from afuse.modeling.fusion_reference import naive_fuse  # noqa: E402

FP32_TOLERANCE = 1e-5  # max |difference| of logits and of every gradient entry
BF16_TOLERANCE = 2e-2  # relative difference of the loss under bf16 autocast vs fp32
HIDDEN, LAYERS, VOCAB, BATCH, LENGTH = 64, 2, 300, 4, 24


def tiny_encoder(seed: int = 0) -> BertModel:
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=64,
    )
    return BertModel(config, add_pooling_layer=False)


def head_config(name: str) -> object:
    return OmegaConf.create({"name": name, "kind": "pair", "labels": ["a", "b", "c"], "num_choices": None})


def scramble(module: torch.nn.Module, seed: int, scale: float = 0.2) -> None:
    """Weights far from their initialisation (zero up-projections would hide a wrong adapter)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)


def inputs(seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, VOCAB, (BATCH, LENGTH), generator=g)
    mask = torch.ones_like(ids)
    for i in range(BATCH):  # right padding of different lengths
        mask[i, LENGTH - 3 * i :] = 0
    labels = torch.randint(0, 3, (BATCH,), generator=g)
    return {"input_ids": ids * mask, "attention_mask": mask, "labels": labels}


def build(case: str, n_sources: int = 0) -> tuple[AfuseModel, str]:
    """A model set up for one case, and the trainable kind it trains."""
    model = AfuseModel(tiny_encoder(), "bert")
    if case in ("st_a", "houlsby"):
        model.add_adapter("t", AdapterSpec("pfeiffer" if case == "st_a" else "houlsby", 4))
        model.add_head("t", head_config("t"))
        scramble(model.adapters, 1)
        model.set_active(adapter="t", head="t")
        return model, "adapter"
    if case in ("fusion", "houlsby_fusion"):  # Houlsby sources: fusion after attention and after the FFN
        names = [f"s{i}" for i in range(n_sources)]
        for name in names:
            model.add_adapter(name, AdapterSpec("pfeiffer" if case == "fusion" else "houlsby", 4))
        model.add_head("t", head_config("t"))
        model.add_fusion(names, FusionSpec("dynamic"))
        scramble(model.adapters, 2)
        scramble(model.fusion, 3, scale=0.05)
        model.set_active(fusion=True, head="t")
        return model, "fusion"
    for name in ("a", "b"):  # MT-A: shared encoder, one adapter and head per task
        model.add_adapter(name, AdapterSpec("pfeiffer", 4))
        model.add_head(name, head_config(name))
    scramble(model.adapters, 4)
    return model, "multitask"


def loss_of(model: AfuseModel, kind: str, batch: dict, device: torch.device):
    batch = {k: v.to(device) for k, v in batch.items()}
    labels = batch.pop("labels")
    tasks = ("a", "b") if kind == "multitask" else (None,)
    logits, loss = [], 0.0
    for task in tasks:
        if task:
            model.set_active(adapter=task, head=task)
        out = model(**batch)
        logits.append(out.float())
        loss = loss + F.cross_entropy(out.float(), labels)
    if kind == "fusion":
        loss = loss + model.fusion.spec.regularization * model.fusion_regularization()
    return torch.cat(logits), loss


def forward_backward(model: AfuseModel, kind: str, device: torch.device, amp: bool = False):
    model = model.to(device).eval()
    params = dict((n, p) for n, p in model.named_parameters() if p.requires_grad)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        logits, loss = loss_of(model, kind, inputs(), device)
    grads = torch.autograd.grad(loss, list(params.values()))
    return (
        logits.detach().cpu(),
        loss.detach().cpu(),
        {n: g.cpu() for n, g in zip(params, grads, strict=True)},
    )


def max_diff(a: dict, b: dict) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def model_case(name: str, case: str, device: torch.device, n_sources: int = 0) -> dict:
    model, kind = build(case, n_sources)
    model.trainable_for(kind)
    on_device = copy.deepcopy(model)
    cpu_logits, cpu_loss, cpu_grads = forward_backward(model, kind, torch.device("cpu"))
    logits, loss, grads = forward_backward(on_device, kind, device)
    _, bf16_loss, _ = forward_backward(on_device, kind, device, amp=True)
    logit_diff = float((logits - cpu_logits).abs().max())
    grad_diff = max_diff(grads, cpu_grads)
    bf16_rel = abs(float(bf16_loss) - float(loss)) / abs(float(loss))
    return {
        "name": name,
        "check": f"{device.type} fp32 vs cpu fp32; bf16 autocast loss vs fp32",
        "logits_max_abs_diff": logit_diff,
        "grads_max_abs_diff": grad_diff,
        "grad_tensors": len(grads),
        "bf16_loss_rel_diff": bf16_rel,
        "passed": logit_diff <= FP32_TOLERANCE and grad_diff <= FP32_TOLERANCE and bf16_rel <= BF16_TOLERANCE,
    }


def fusion_layer_case(n: int, device: torch.device) -> dict:
    """The fast fusion algebra against the naive layer, both on the device (h = 768, as BERT-base)."""
    h, g = 768, torch.Generator().manual_seed(n)
    bottlenecks = [Bottleneck(h, 48, "relu") for _ in range(n)]
    layer = FusionLayer(h, dynamic=True)
    for i, module in enumerate([*bottlenecks, layer]):
        scramble(module, 10 + i, scale=0.02)
    bottlenecks = [b.to(device) for b in bottlenecks]
    layer = layer.to(device)
    a = (torch.randn(4, 32, h, generator=g) * 0.5).to(device).requires_grad_(True)
    params = [*layer.parameters(), a]
    weights = torch.randn(4, 32, h, generator=g).to(device)
    fast, fast_p = fuse(layer, stack_adapters(bottlenecks), a)
    ref, ref_p = naive_fuse(layer, bottlenecks, a)
    fast_g = torch.autograd.grad((fast * weights).sum(), params)
    ref_g = torch.autograd.grad((ref * weights).sum(), params)
    out_diff = float((fast - ref).detach().abs().max())
    grad_diff = max(float((x - y).abs().max()) for x, y in zip(fast_g, ref_g, strict=True))
    return {
        "name": f"fusion layer N={n}",
        "check": f"fast path vs naive reference on {device.type}, fp32",
        "logits_max_abs_diff": out_diff,
        "probs_max_abs_diff": float((fast_p - ref_p).detach().abs().max()),
        "grads_max_abs_diff": grad_diff,
        "passed": out_diff <= FP32_TOLERANCE * 10 and grad_diff <= FP32_TOLERANCE * 10,
        "tolerance": FP32_TOLERANCE * 10,  # h = 768 sums: 10x the tiny model's bound
    }


def main(argv=None) -> int:
    import graphed_training  # it builds its models with build() above

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 for the comparison
    torch.backends.cudnn.allow_tf32 = False
    cases = [
        model_case("ST-A (Pfeiffer)", "st_a", device),
        model_case("Houlsby", "houlsby", device),
        model_case("Fusion N=2", "fusion", device, 2),
        model_case("Fusion N=16", "fusion", device, 16),
        model_case("Houlsby Fusion N=4, both sites", "houlsby_fusion", device, 4),
        model_case("MT-A (2 tasks)", "multitask", device),
        fusion_layer_case(2, device),
        fusion_layer_case(16, device),
        *graphed_training.cases(device),
    ]
    result = {"device": str(device), "fp32_tolerance": FP32_TOLERANCE, "bf16_tolerance": BF16_TOLERANCE}
    result["cases"] = cases
    result["passed"] = all(c["passed"] for c in cases)
    args.out.write_text(json.dumps(result, indent=2))
    for c in cases:
        diffs = ", ".join(f"{k.removesuffix('_diff')} {v:.2e}" for k, v in c.items() if k.endswith("_diff"))
        diffs = diffs or c.get("error", "")
        print(f"{'ok  ' if c['passed'] else 'FAIL'} {c['name']}: {diffs}", flush=True)
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
