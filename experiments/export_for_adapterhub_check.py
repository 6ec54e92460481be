"""Export afuse adapters and a head for the reverse interoperability check (AdapterHub reads afuse).

    PYTHONPATH=. .venv/bin/python experiments/export_for_adapterhub_check.py /tmp/afuse_export
    /work/venv-adapters/bin/python experiments/make_adapterhub_fixtures.py --check-afuse-export /tmp/afuse_export

Loads the fixture's tiny BERT, gives a Pfeiffer and a Houlsby adapter and a head fresh random
weights (so nothing is copied from AdapterHub's files), saves them with afuse's save_adapter /
save_head (AdapterHub directory format), and stores afuse's logits; the second command loads those
directories with the `adapters` library and compares its logits with afuse's.
"""

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import BertConfig, BertModel

from afuse.modeling import AdapterSpec, AfuseModel

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "adapterhub"


def main(out: Path) -> None:
    meta = json.loads((FIXTURES / "fixtures.json").read_text())
    expected = load_file(FIXTURES / "expected.safetensors")
    encoder = BertModel(BertConfig(**meta["bert_config"]), add_pooling_layer=False)
    encoder.load_state_dict(load_file(FIXTURES / "base.safetensors"))
    model = AfuseModel(encoder, "bert").eval()
    g = torch.Generator().manual_seed(11)
    model.add_adapter("st", AdapterSpec("pfeiffer", 4, "relu"))
    model.add_adapter("hb", AdapterSpec("houlsby", 8, "swish"))
    model.load_head("cls", FIXTURES / "head_cls")
    with torch.no_grad():
        for p in [*model.adapters.parameters(), *model.heads.parameters()]:
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    batch = {k.removeprefix("single_"): v for k, v in expected.items() if k.startswith("single_")}
    logits = {}
    for name in ("st", "hb"):
        model.set_active(adapter=name, head="cls")
        with torch.no_grad():
            logits[f"{name}_cls"] = model(**batch).contiguous()
        model.save_adapter(name, out / name)
    model.save_head("cls", out / "head_cls")
    save_file(logits, out / "afuse_logits.safetensors")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
