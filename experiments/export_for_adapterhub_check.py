"""Export afuse adapters, heads and fusions for the reverse interoperability check (AdapterHub reads afuse).

    .venv/bin/python experiments/export_for_adapterhub_check.py
    .venv-adapters/bin/python experiments/make_adapterhub_fixtures.py --check-afuse-export

(step 2 and 3 of experiments/make_adapterhub_fixtures.py). For each fixture family (tiny BERT,
tiny RoBERTa) this loads the fixture's base encoder, gives afuse adapters, heads and fusions
fresh random weights (nothing is copied from the library's files), writes them with afuse's
writers into tests/fixtures/adapterhub/<family>/afuse_export/ the way `afuse export` lays out a
run (a head inside its adapter's or its fusion's directory), and stores afuse's logits and a
manifest of the cases. The second command loads them with the library's default calls.
"""

import json
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from afuse.modeling import AdapterSpec, FusionSpec  # noqa: E402
from tests.modeling.conftest import FIXTURES, HUB_FAMILIES, load_hub_fixture  # noqa: E402

H3 = {"kind": "pair", "labels": ["a", "b", "c"]}
# case -> adapters {name: spec}, fusion spec or None, head (name, task kind, head shape)
CASES = {
    "st_cls": ({"st": AdapterSpec("pfeiffer", 4, "relu")}, None, ("st", {})),
    "hb_cls": ({"hb": AdapterSpec("houlsby", 8, "swish")}, None, ("hb", {})),
    "st_tanh_cls1": ({"st_tanh": AdapterSpec("pfeiffer", 4, "tanh")}, None, ("st_tanh", {"layers": 1})),
    "fusion_cls": (
        {"p1": AdapterSpec("pfeiffer", 4), "p2": AdapterSpec("pfeiffer", 8)},
        FusionSpec("dynamic"),
        ("rte", {}),
    ),
    "fusion_static_linear": (
        {"p1": AdapterSpec("pfeiffer", 4), "p2": AdapterSpec("pfeiffer", 8)},
        FusionSpec("static", score_dropout=0.0),
        ("cb", {"activation": None}),
    ),
    "fusion_houlsby_cls": (
        {"x1": AdapterSpec("houlsby", 4, "swish"), "x2": AdapterSpec("houlsby", 8, "swish")},
        FusionSpec("dynamic"),
        ("sick", {}),
    ),
}


def export_case(make_model, case: str, out: Path, g: torch.Generator) -> tuple[dict, torch.Tensor]:
    from afuse.modeling.heads import Head

    adapters, fusion_spec, (head, shape) = CASES[case]
    model = make_model()
    for name, spec in adapters.items():
        model.add_adapter(name, spec)
    model.heads[head] = Head("classification", model.hidden_size, num_labels=3, dropout=0.0, **shape)
    params = [*model.adapters.parameters(), *model.heads.parameters()]
    if fusion_spec is not None:
        model.add_fusion(list(adapters), fusion_spec)
        for layer in (model.fusion.at(i, pos) for pos, i in model.fusion.sites()):
            params += [layer.query.weight, layer.query.bias, layer.key.weight, layer.key.bias]
            if layer.value is not None:
                with torch.no_grad():  # near the identity, as after training
                    layer.value.weight.copy_(torch.eye(32) + 0.1 * torch.randn(32, 32, generator=g))
    with torch.no_grad():
        for p in params:
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    for name in adapters:
        model.save_adapter(name, out / name)
    if fusion_spec is not None:
        fusion_dir = "fusion_" + "_".join(adapters)
        model.save_fusion(out / fusion_dir)
        model.save_head(head, out / fusion_dir)
        model.set_active(fusion=True, head=head)
    else:
        fusion_dir = None
        model.save_head(head, out / next(iter(adapters)))
        model.set_active(adapter=next(iter(adapters)), head=head)
    positions = list(model.fusion.positions) if fusion_spec is not None else None
    manifest = {"adapters": list(adapters), "fusion": fusion_dir, "head": head, "input": "single"}
    if positions:
        manifest["positions"] = positions
    return manifest, model.eval()


def main() -> None:
    for family in HUB_FAMILIES:
        _, expected, make_model = load_hub_fixture(family)
        out = FIXTURES / family / "afuse_export"
        if out.exists():
            shutil.rmtree(out)
        g = torch.Generator().manual_seed(11)
        batch = {k.removeprefix("single_"): v for k, v in expected.items() if k.startswith("single_")}
        cases, logits = {}, {}
        for case in CASES:
            cases[case], model = export_case(make_model, case, out / case, g)
            with torch.no_grad():
                logits[case] = model(**batch).contiguous()
        # One directory per case, so that each case's library model loads exactly its files.
        flat = {case: {**m, "adapters": [f"{case}/{a}" for a in m["adapters"]]} for case, m in cases.items()}
        for m in flat.values():
            if m["fusion"]:
                m["fusion"] = f"{m['adapters'][0].split('/')[0]}/{m['fusion']}"
        save_file(logits, out / "afuse_logits.safetensors")
        (out / "export.json").write_text(json.dumps({"cases": flat}, indent=2) + "\n")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
