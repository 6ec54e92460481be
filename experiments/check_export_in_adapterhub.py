"""Does the `adapters` library reproduce a trained afuse run from `afuse export`'s files?

    afuse export run=<run dir> out=<dir> with_encoder=true
    .venv/bin/python experiments/check_export_in_adapterhub.py afuse <run dir> <dir>      # afuse's logits
    .venv-adapters/bin/python experiments/check_export_in_adapterhub.py library <dir>     # the library's

The first command rebuilds the run from its own files (afuse's fusion.safetensors and
head.safetensors, the stage-1 adapters it fused) and stores its eval-mode logits on fixed padded
inputs in <dir>/afuse_logits.safetensors. The second runs the library calls afuse export printed
(export.json's load_with_adapters: from_pretrained(encoder), load_adapter(dir),
load_adapter_fusion(dir), the active adapters and head) and compares the logits of the model they
give with afuse's (max |diff| must be < 1e-5).
"""

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def inputs(vocab: int, pad_id: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(5)
    ids = torch.randint(5, min(vocab, 2000), (4, 16), generator=g)
    mask = torch.zeros_like(ids)
    for row, length in enumerate((16, 12, 7, 3)):
        mask[row, :length] = 1
    return {"input_ids": ids * mask + pad_id * (1 - mask), "attention_mask": mask}


def afuse_logits(run_dir: Path, out: Path) -> None:
    from afuse.modeling import load_backbone
    from afuse.run_model import load_run_model, run_config

    model = load_run_model(run_dir)
    tokenizer = load_backbone(run_config(run_dir).model).tokenizer
    batch = inputs(model.encoder.config.vocab_size, tokenizer.pad_token_id)
    with torch.no_grad():
        logits = model.eval()(**batch)
    save_file({**batch, "logits": logits.contiguous()}, out / "afuse_logits.safetensors")
    print(f"afuse: logits of {run_dir} -> {out / 'afuse_logits.safetensors'}")


def library_logits(out: Path) -> None:
    import adapters

    manifest = json.loads((out / "export.json").read_text())
    expected = load_file(out / "afuse_logits.safetensors")
    # The code afuse export printed, as a user runs it (its active head included: no head= below).
    namespace = {}
    exec("\n".join(manifest["load_with_adapters"]), namespace)
    model = namespace["model"]
    names = list(manifest["adapters"])
    head = next(iter(manifest["heads"]))  # MT-A: the first task's
    assert model.active_head == head, f"the printed code activates head {model.active_head!r}, not {head!r}"
    with torch.no_grad():
        logits = model.eval()(
            input_ids=expected["input_ids"], attention_mask=expected["attention_mask"]
        ).logits
    diff = (logits - expected["logits"]).abs().max().item()
    print(
        f"adapters {adapters.__version__}: {out} ({', '.join(names)}"
        f"{', fusion' if manifest['fusion'] else ''}, head {head}): max |logit diff| vs afuse = {diff:.2e}"
    )
    assert diff < 1e-5, diff


if __name__ == "__main__":
    if sys.argv[1] == "afuse":
        afuse_logits(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        library_logits(Path(sys.argv[2]))
