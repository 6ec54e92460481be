"""Make the AdapterHub parity fixtures in tests/fixtures/adapterhub/<family>/ with the real `adapters` library.

Runs in AdapterHub's own venv (adapters 1.3.0 pins transformers 4.57, so it cannot share afuse's):

    python3 -m venv .venv-adapters && .venv-adapters/bin/pip install torch==2.13.0 adapters==1.3.0
    .venv-adapters/bin/python experiments/make_adapterhub_fixtures.py                 # 1. the library writes
    .venv/bin/python experiments/export_for_adapterhub_check.py                        # 2. afuse exports
    .venv-adapters/bin/python experiments/make_adapterhub_fixtures.py --check-afuse-export   # 3. the library reads

1. A tiny BERT and a tiny RoBERTa (from config, seed 0) get adapters with non-trivial random
   weights (seq_bn/Pfeiffer relu, gelu with a fractional reduction factor, tanh, mish;
   double_seq_bn/Houlsby swish and gelu_new; seq_bn with leave_out; fusion sources of two widths,
   Pfeiffer and Houlsby), heads (2-layer tanh, 1-layer, 2-layer without activation, multiple
   choice), a dynamic and a static Pfeiffer fusion and a Houlsby fusion (which the library puts
   after attention and after the FFN). The library's own save_* methods write them, and its
   eval-mode logits (and fusion attentions per site) on padded inputs go to expected.safetensors.
   tests/modeling/test_adapterhub.py checks afuse against them to 1e-5.
2. afuse writes adapters, heads and fusions with fresh weights in the library's format
   (afuse_export/, with afuse's logits).
3. The library loads afuse_export/ with its *default* calls (load_adapter(dir),
   load_adapter_fusion(dir): the .bin files, heads included) and stores its logits there
   (library_logits.safetensors), asserting they agree with afuse's to 1e-5; the tests check the
   committed files against afuse without the library installed.
"""

import argparse
import json
import shutil
from pathlib import Path

import adapters
import torch
import transformers
from adapters import BertAdapterModel, DoubleSeqBnConfig, RobertaAdapterModel, SeqBnConfig
from adapters.composition import Fuse
from safetensors.torch import load_file, save_file
from transformers import BertConfig, BertModel, RobertaConfig, RobertaModel

ROOT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "adapterhub"
CONFIG = dict(
    vocab_size=120,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=48,
    max_position_embeddings=32,
)
# family -> (adapter model, plain encoder, config class, extra config, pad token id)
FAMILIES = {
    "bert": (BertAdapterModel, BertModel, BertConfig, {"type_vocab_size": 2}, 0),
    "roberta": (
        RobertaAdapterModel,
        RobertaModel,
        RobertaConfig,
        {"type_vocab_size": 1, "pad_token_id": 1},
        1,
    ),
}
ADAPTERS = {  # name -> (config, save as safetensors?)
    "st": (SeqBnConfig(reduction_factor=4), False),
    "st_gelu": (SeqBnConfig(reduction_factor=2.5, non_linearity="gelu"), True),
    "st_tanh": (SeqBnConfig(reduction_factor=4, non_linearity="tanh"), False),
    "st_mish": (SeqBnConfig(reduction_factor=8, non_linearity="mish"), True),
    "hb": (DoubleSeqBnConfig(reduction_factor=4), True),
    "hb_gelu_new": (DoubleSeqBnConfig(reduction_factor=8, non_linearity="gelu_new"), False),
    "lo": (SeqBnConfig(reduction_factor=4, leave_out=[1]), False),
    "f1": (SeqBnConfig(reduction_factor=4), False),
    "f2": (SeqBnConfig(reduction_factor=8), True),
    "f3": (SeqBnConfig(reduction_factor=4), False),
    "h1": (DoubleSeqBnConfig(reduction_factor=4), False),
    "h2": (DoubleSeqBnConfig(reduction_factor=8), True),
}
FUSIONS = {  # directory -> (sources, save as safetensors?)
    "fusion_dynamic": (("f1", "f2", "f3"), False),
    "fusion_static": (("f1", "f2"), True),
    "fusion_houlsby": (("h1", "h2"), False),
}
HEADS = {  # directory -> (head name, kind, options, save as safetensors?)
    "head_cls": ("cls", "classification", {"num_labels": 3}, False),
    "head_mc": ("mc", "multiple_choice", {"num_choices": 3}, True),
    "head_cls1": ("cls1", "classification", {"num_labels": 2, "layers": 1}, False),
    "head_linear": ("linear", "classification", {"num_labels": 3, "activation_function": None}, True),
}
# case -> (active adapter or fusion directory, head, input kind)
CASES = {
    "base_cls": (None, "cls", "single"),
    "st_cls": ("st", "cls", "single"),
    "st_gelu_cls": ("st_gelu", "cls", "single"),
    "st_tanh_cls": ("st_tanh", "cls", "single"),
    "st_mish_cls": ("st_mish", "cls", "single"),
    "hb_cls": ("hb", "cls", "single"),
    "hb_gelu_new_cls": ("hb_gelu_new", "cls", "single"),
    "lo_cls": ("lo", "cls", "single"),
    "st_mc": ("st", "mc", "choice"),
    "st_cls1": ("st", "cls1", "single"),
    "st_linear": ("st", "linear", "single"),
    "fusion_dynamic_cls": ("fusion_dynamic", "cls", "single"),
    "fusion_static_cls": ("fusion_static", "cls", "single"),
    "fusion_houlsby_cls": ("fusion_houlsby", "cls", "single"),
}
SITES = {"mh_adapter": "attn", "output_adapter": "ffn"}  # the library's location keys -> afuse's


def inputs(pad_id: int) -> dict[str, torch.Tensor]:
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
    with_types = pad_id == 0  # RoBERTa has one token type
    return {
        "single_input_ids": single * mask + pad_id * (1 - mask),
        "single_attention_mask": mask,
        "single_token_type_ids": types * mask if with_types else torch.zeros_like(single),
        "choice_input_ids": choice * choice_mask + pad_id * (1 - choice_mask),
        "choice_attention_mask": choice_mask,
        "choice_token_type_ids": torch.zeros_like(choice),
    }


def randomize(module: torch.nn.Module, g: torch.Generator, std: float) -> None:
    """Non-trivial weights, so that parity tests exercise every term."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * std)


def encoder_config(family: str):
    _, _, config_cls, extra, _ = FAMILIES[family]
    return config_cls(**CONFIG, **extra)


def build(family: str):
    model_cls = FAMILIES[family][0]
    torch.manual_seed(0)
    model = model_cls(encoder_config(family))
    g = torch.Generator().manual_seed(2)
    for name, (config, _) in ADAPTERS.items():
        model.add_adapter(name, config=config)
    for name, kind, options, _ in HEADS.values():
        add = model.add_classification_head if kind == "classification" else model.add_multiple_choice_head
        add(name, **options)
    for sources, _ in FUSIONS.values():
        model.add_adapter_fusion(
            Fuse(*sources), "dynamic" if sources != FUSIONS["fusion_static"][0] else "static"
        )
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


def base_state(model, family: str) -> dict[str, torch.Tensor]:
    """The plain encoder weights (no pooler, no adapter modules), as afuse's encoder names them."""
    plain = FAMILIES[family][1](encoder_config(family), add_pooling_layer=False).state_dict()
    own = model.base_model.state_dict()
    return {k: own[k].clone().contiguous() for k in plain}


def setup_of(name):
    return Fuse(*FUSIONS[name][0]) if name in FUSIONS else name


def run(model, setup, head, batch, **extra):
    model.set_active_adapters(setup)
    with torch.no_grad():
        return model(**batch, head=head, **extra)


def batch_for(data, kind):
    return {k.removeprefix(f"{kind}_"): v for k, v in data.items() if k.startswith(f"{kind}_")}


def fusion_activations(attentions: dict, mask: torch.Tensor, location: str) -> torch.Tensor:
    """layers × sources mean of the library's fusion softmax at one location over non-padding tokens."""
    rows = []
    for layer in sorted(attentions):
        probs = torch.as_tensor(attentions[layer][location])  # (B, L, N)
        rows.append(probs[mask.bool()].double().mean(0))
    return torch.stack(rows)


def make(family: str) -> None:
    out = ROOT / family
    model = build(family)
    data = inputs(FAMILIES[family][4])
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    expected = dict(data)
    for case, (setup, head, kind) in CASES.items():
        expected[case] = run(model, setup_of(setup), head, batch_for(data, kind)).logits.contiguous()
    # Conditioning check: float32 logits must sit well within 1e-5 of the float64 ones, or a
    # 1e-5 parity test would measure rounding rather than semantics.
    exact = build(family).double()
    rounding = {
        c: (run(exact, setup_of(s), h, batch_for(data, kind)).logits - expected[c].double())
        .abs()
        .max()
        .item()
        for c, (s, h, kind) in CASES.items()
    }
    print(f"{family}: float32 vs float64 max |logit diff| per case:", rounding)
    rounding = max(rounding.values())
    assert rounding < 2.5e-6, rounding
    mask = data["single_attention_mask"]
    for fusion in ("fusion_dynamic", "fusion_houlsby"):
        setup = setup_of(fusion)
        out_ = run(model, setup, "cls", batch_for(data, "single"), output_adapter_fusion_attentions=True)
        attentions = out_.adapter_fusion_attentions[setup.name]
        for location, site in SITES.items():
            if location in attentions[0]:
                expected[f"{fusion}_activations_{site}"] = fusion_activations(attentions, mask, location)
    save_file(expected, out / "expected.safetensors")
    save_file(base_state(model, family), out / "base.safetensors")
    for name, (_, safetensors) in ADAPTERS.items():
        model.save_adapter(str(out / name), name, with_head=False, use_safetensors=safetensors)
    for directory, (name, _, _, safetensors) in HEADS.items():
        model.save_head(str(out / directory), name, use_safetensors=safetensors)
    for directory, (sources, safetensors) in FUSIONS.items():
        model.save_adapter_fusion(str(out / directory), ",".join(sources), use_safetensors=safetensors)
    cases = {c: {"adapter": s, "head": f"head_{h}", "input": k} for c, (s, h, k) in CASES.items()}
    meta = {
        "made_by": f"experiments/make_adapterhub_fixtures.py with adapters {adapters.__version__}, "
        f"transformers {transformers.__version__}, torch {torch.__version__}",
        "family": family,
        "config": encoder_config(family).to_diff_dict() | CONFIG,
        "cases": cases,
        "fusions": {name: list(sources) for name, (sources, _) in FUSIONS.items()},
        "float32_vs_float64_max_logit_diff": rounding,
    }
    meta["config"].pop("transformers_version", None)
    (out / "fixtures.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out}")


def check_afuse_export(family: str) -> None:
    """Load afuse's exports into the library with its default calls; compare with afuse's logits."""
    export = ROOT / family / "afuse_export"
    cases = json.loads((export / "export.json").read_text())["cases"]
    afuse_logits = load_file(export / "afuse_logits.safetensors")
    data = inputs(FAMILIES[family][4])
    library_logits = {}
    for case, spec in cases.items():
        torch.manual_seed(0)
        model = FAMILIES[family][0](encoder_config(family))
        missing, _ = model.base_model.load_state_dict(
            load_file(ROOT / family / "base.safetensors"), strict=False
        )
        assert all(k.startswith(("pooler.", "prompt_tuning.")) for k in missing), missing
        model.eval()
        # The defaults: the .bin weights, and the head a directory holds.
        names = [model.load_adapter(str(export / directory)) for directory in spec["adapters"]]
        if spec["fusion"]:
            model.load_adapter_fusion(str(export / spec["fusion"]))
            setup = Fuse(*names)
        else:
            setup = names[0]
        assert spec["head"] in model.heads, (case, list(model.heads))
        logits = run(model, setup, spec["head"], batch_for(data, spec["input"])).logits.contiguous()
        diff = (logits - afuse_logits[case]).abs().max().item()
        print(
            f"{family} {case}: adapters {adapters.__version__} loaded afuse's export; max |logit diff| = {diff:.2e}"
        )
        assert diff < 1e-5, case
        library_logits[case] = logits
    save_file(library_logits, export / "library_logits.safetensors")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check-afuse-export", action="store_true")
    args = ap.parse_args()
    for fam in FAMILIES:
        check_afuse_export(fam) if args.check_afuse_export else make(fam)
