"""Make the AdapterHub parity fixtures in tests/fixtures/adapterhub/ with the real `adapters` library.

Runs in AdapterHub's own venv (adapters 1.3.0 pins transformers 4.57, so it cannot share afuse's):
    /work/venv-adapters/bin/python experiments/make_adapterhub_fixtures.py

A tiny BERT (from config, seed 0) gets adapters with non-trivial random weights (seq_bn/Pfeiffer
relu and gelu with a fractional reduction factor, double_seq_bn/Houlsby swish, seq_bn with
leave_out, three fusion sources of two widths), two heads, a dynamic and a static fusion; the
library's own save_* methods write them, and its eval-mode logits (and fusion attentions) on
padded inputs go to expected.safetensors. tests/modeling/test_adapterhub.py checks afuse against
them to 1e-5.

    --check-afuse-export DIR   instead, load the adapters and head that afuse exported to DIR
                               (experiments/export_for_adapterhub_check.py) into the library and
                               compare its logits with afuse's: the other direction (AdapterHub
                               reads afuse's files).
"""

import argparse
import json
import shutil
from pathlib import Path

import adapters
import torch
from adapters import BertAdapterModel, DoubleSeqBnConfig, SeqBnConfig
from adapters.composition import Fuse
from safetensors.torch import load_file, save_file
from transformers import BertConfig, BertModel

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "adapterhub"
CONFIG = dict(
    vocab_size=120,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=48,
    max_position_embeddings=32,
    type_vocab_size=2,
)
ADAPTERS = {  # name -> (config, save as safetensors?)
    "st": (SeqBnConfig(reduction_factor=4), False),
    "st_gelu": (SeqBnConfig(reduction_factor=2.5, non_linearity="gelu"), True),
    "hb": (DoubleSeqBnConfig(reduction_factor=4), True),
    "lo": (SeqBnConfig(reduction_factor=4, leave_out=[1]), False),
    "f1": (SeqBnConfig(reduction_factor=4), False),
    "f2": (SeqBnConfig(reduction_factor=8), True),
    "f3": (SeqBnConfig(reduction_factor=4), False),
}
DYNAMIC = ("f1", "f2", "f3")
STATIC = ("f1", "f2")
# case -> (active setup, head, input kind)
CASES = {
    "base_cls": (None, "cls", "single"),
    "st_cls": ("st", "cls", "single"),
    "st_gelu_cls": ("st_gelu", "cls", "single"),
    "hb_cls": ("hb", "cls", "single"),
    "lo_cls": ("lo", "cls", "single"),
    "st_mc": ("st", "mc", "choice"),
    "fusion_dynamic_cls": (Fuse(*DYNAMIC), "cls", "single"),
    "fusion_static_cls": (Fuse(*STATIC), "cls", "single"),
}


def inputs() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    single = torch.randint(5, 120, (3, 10), generator=g)
    mask = torch.zeros(3, 10, dtype=torch.long)
    for row, length in enumerate((10, 7, 4)):
        mask[row, :length] = 1
    types = torch.zeros_like(single)
    types[:, 5:] = 1
    choice = torch.randint(5, 120, (2, 3, 8), generator=g)
    choice_mask = torch.ones_like(choice)
    choice_mask[0, 1, 6:] = 0
    choice_mask[1, :, 5:] = 0
    return {
        "single_input_ids": single * mask,
        "single_attention_mask": mask,
        "single_token_type_ids": types * mask,
        "choice_input_ids": choice * choice_mask,
        "choice_attention_mask": choice_mask,
        "choice_token_type_ids": torch.zeros_like(choice),
    }


def randomize(module: torch.nn.Module, g: torch.Generator, std: float) -> None:
    """Non-trivial weights, so that parity tests exercise every term."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * std)


def build() -> BertAdapterModel:
    torch.manual_seed(0)
    model = BertAdapterModel(BertConfig(**CONFIG))
    g = torch.Generator().manual_seed(2)
    for name, (config, _) in ADAPTERS.items():
        model.add_adapter(name, config=config)
    model.add_classification_head("cls", num_labels=3)
    model.add_multiple_choice_head("mc", num_choices=3)
    model.add_adapter_fusion(Fuse(*DYNAMIC), "dynamic")
    model.add_adapter_fusion(Fuse(*STATIC), "static")
    for name, module in model.named_modules():
        if name.endswith(tuple(f"adapters.{a}" for a in ADAPTERS)):
            randomize(module, g, 0.3)
        elif "adapter_fusion_layer" in name and name.endswith(("query", "key")):
            randomize(module, g, 0.1)
        elif "adapter_fusion_layer" in name and name.endswith("value"):
            with torch.no_grad():  # near the identity, as after some training
                module.weight.copy_(torch.eye(32) + 0.1 * torch.randn(32, 32, generator=g))
    randomize(model.heads, g, 0.3)
    return model.eval()


def base_state(model: BertAdapterModel) -> dict[str, torch.Tensor]:
    """The plain BERT weights (no pooler, no adapter modules), as afuse's encoder names them."""
    plain = BertModel(BertConfig(**CONFIG), add_pooling_layer=False).state_dict()
    own = model.bert.state_dict()
    return {k: own[k].clone().contiguous() for k in plain}


def run(model, setup, head, batch, **extra):
    if setup is None:
        model.set_active_adapters(None)
    else:
        model.set_active_adapters(setup)
    with torch.no_grad():
        return model(**batch, head=head, **extra)


def batch_for(data, kind):
    return {k.removeprefix(f"{kind}_"): v for k, v in data.items() if k.startswith(f"{kind}_")}


def fusion_activation_matrix(attentions: dict, mask: torch.Tensor) -> torch.Tensor:
    """layers × sources mean of the library's fusion softmax over non-padding tokens."""
    rows = []
    for layer in sorted(attentions):
        probs = torch.as_tensor(attentions[layer]["output_adapter"])  # (B, L, N)
        rows.append(probs[mask.bool()].double().mean(0))
    return torch.stack(rows)


def make() -> None:
    model = build()
    data = inputs()
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    expected = dict(data)
    for case, (setup, head, kind) in CASES.items():
        expected[case] = run(model, setup, head, batch_for(data, kind)).logits.contiguous()
    # Conditioning check: float32 logits must sit well within 1e-5 of the float64 ones, or a
    # 1e-5 parity test would measure rounding rather than semantics.
    exact = build().double()
    rounding = {
        c: (run(exact, s, h, batch_for(data, kind)).logits - expected[c].double()).abs().max().item()
        for c, (s, h, kind) in CASES.items()
    }
    print("float32 vs float64 max |logit diff| per case:", rounding)
    rounding = max(rounding.values())
    assert rounding < 2.5e-6, rounding
    out = run(model, Fuse(*DYNAMIC), "cls", batch_for(data, "single"), output_adapter_fusion_attentions=True)
    expected["fusion_dynamic_activations"] = fusion_activation_matrix(
        out.adapter_fusion_attentions[",".join(DYNAMIC)], data["single_attention_mask"]
    )
    save_file(expected, OUT / "expected.safetensors")
    save_file(base_state(model), OUT / "base.safetensors")
    for name, (_, safetensors) in ADAPTERS.items():
        model.save_adapter(str(OUT / name), name, with_head=False, use_safetensors=safetensors)
    model.save_head(str(OUT / "head_cls"), "cls")
    model.save_head(str(OUT / "head_mc"), "mc", use_safetensors=True)
    model.save_adapter_fusion(str(OUT / "fusion_dynamic"), ",".join(DYNAMIC))
    model.save_adapter_fusion(str(OUT / "fusion_static"), ",".join(STATIC), use_safetensors=True)
    cases = {c: {"adapter": _setup_name(s), "head": h, "input": k} for c, (s, h, k) in CASES.items()}
    meta = {
        "made_by": f"experiments/make_adapterhub_fixtures.py with adapters {adapters.__version__}, "
        f"transformers {__import__('transformers').__version__}, torch {torch.__version__}",
        "bert_config": CONFIG,
        "cases": cases,
        "fusions": {"fusion_dynamic": list(DYNAMIC), "fusion_static": list(STATIC)},
        "float32_vs_float64_max_logit_diff": rounding,
    }
    (OUT / "fixtures.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {OUT}")


def _setup_name(setup):
    if setup is None:
        return None
    if isinstance(setup, Fuse):
        return "fusion_dynamic" if tuple(setup.children) == DYNAMIC else "fusion_static"
    return setup


def check_afuse_export(export: Path) -> None:
    """Load afuse's exported adapter + head into the library; compare with afuse's logits."""
    torch.manual_seed(0)
    model = BertAdapterModel(BertConfig(**CONFIG))
    missing, _ = model.bert.load_state_dict(load_file(OUT / "base.safetensors"), strict=False)
    assert all(k.startswith(("pooler.", "prompt_tuning.")) for k in missing), missing
    model.eval()
    afuse_logits = load_file(export / "afuse_logits.safetensors")
    data = inputs()
    for case, (adapter_dir, head_dir) in {"st_cls": ("st", "head_cls"), "hb_cls": ("hb", "head_cls")}.items():
        name = model.load_adapter(str(export / adapter_dir), use_safetensors=True)
        _, head = model.load_head(str(export / head_dir), use_safetensors=True)
        logits = run(model, name, head, batch_for(data, "single")).logits
        diff = (logits - afuse_logits[case]).abs().max().item()
        print(f"{case}: adapters {adapters.__version__} loaded afuse's files; max |logit diff| = {diff:.2e}")
        assert diff < 1e-5, case
        model.delete_adapter(name)
        model.delete_head(head)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check-afuse-export", type=Path, metavar="DIR")
    args = ap.parse_args()
    check_afuse_export(args.check_afuse_export) if args.check_afuse_export else make()
