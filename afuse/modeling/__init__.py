"""Modeling: encoders with bottleneck adapters, heads and AdapterFusion (see docs/contracts.md).

backbone.py     load_backbone: encoder + tokenizer from a conf/model config
adapters.py     AdapterSpec, the bottleneck module, Pfeiffer / Houlsby placement semantics
inject.py       route a transformers encoder's sub-layer outputs through afuse (family mapping)
heads.py        classification and multiple-choice heads (AdapterHub-shaped)
fusion.py       FusionSpec and the fusion layer (fast path; exact w.r.t. the reference)
activations.py  fusion activation capture
adapterhub.py   AdapterHub file formats (also afuse's adapter format)
weights.py      safe weight files (safetensors; weights_only .bin)
model.py        AfuseModel: adapters, heads, fusion, trainable sets, save/load
"""

from afuse.modeling import fastops
from afuse.modeling.activations import ActivationRecorder
from afuse.modeling.adapters import AdapterSpec, adapter_parameter_count
from afuse.modeling.backbone import Backbone, load_backbone, tokenizer_id
from afuse.modeling.fusion import FusionSpec
from afuse.modeling.model import TRAINABLE_KINDS, AfuseModel

__all__ = [
    "TRAINABLE_KINDS",
    "ActivationRecorder",
    "AdapterSpec",
    "AfuseModel",
    "Backbone",
    "FusionSpec",
    "adapter_parameter_count",
    "fastops",
    "load_backbone",
    "tokenizer_id",
]
