"""Task data: raw-format readers, the Hub loader, prepare + manifest, tokenise + cache, collate.

    from afuse.data import prepare_task, load_tokenized, Collator
    prepare_task(task_cfg, data_cfg, paths_cfg, force=False) -> Path
    load_tokenized(task_cfg, data_cfg, paths_cfg, tokenizer, tokenizer_id) -> dict[str, datasets.Dataset]
    Collator(pad_token_id, multiple_choice)(features) -> dict[str, Tensor]

The three are imported on first use: `afuse prepare-data` then starts without loading torch.
"""

from importlib import import_module

_EXPORTS = {
    "prepare_task": "afuse.data.prepare",
    "load_tokenized": "afuse.data.tokenize",
    "Collator": "afuse.data.collate",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'afuse.data' has no attribute {name!r}")
