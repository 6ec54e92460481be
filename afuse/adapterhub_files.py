"""AdapterHub's file names (afuse's adapter directories use the same), torch-free: `afuse status`
and a rerun's skip check find adapter weights files by them before torch is imported."""

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = ("adapter.safetensors", "pytorch_adapter.bin")
HEAD_CONFIG = "head_config.json"
HEAD_WEIGHTS = ("model_head.safetensors", "pytorch_model_head.bin")
FUSION_CONFIG = "adapter_fusion_config.json"
FUSION_WEIGHTS = ("model_adapter_fusion.safetensors", "pytorch_model_adapter_fusion.bin")


def adapter_weights_file(directory):
    """The adapter weights file in an adapter directory (the safetensors one first), or None."""
    return next((directory / name for name in ADAPTER_WEIGHTS if (directory / name).is_file()), None)
