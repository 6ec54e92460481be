"""Stage 2's extra loss: λ·Σ||V - I||² with λ taken from the fusion's own FusionSpec."""

import numpy as np
import torch

from afuse.modeling import AdapterSpec, FusionSpec
from afuse.train.fusion_stage import value_penalty
from tests.modeling.conftest import tiny_model


def fused_model(spec: FusionSpec):
    model = tiny_model()
    for name in ("a", "b"):
        model.add_adapter(name, AdapterSpec(variant="pfeiffer", reduction_factor=16))
    model.add_fusion(["a", "b"], spec)
    with torch.no_grad():  # V away from its identity start, so the penalty is not ~0
        for name, param in model.fusion.named_parameters():
            if name.endswith("value.weight"):
                param.add_(torch.randn_like(param) * 0.1)
    return model


def test_the_penalty_is_the_specs_lambda_times_the_value_deviation():
    torch.manual_seed(0)
    model = fused_model(FusionSpec(regularization=0.37))
    values = [p.detach().numpy() for n, p in model.fusion.named_parameters() if n.endswith("value.weight")]
    assert len(values) == 2  # one V per layer of the tiny encoder
    # By hand: Σ over layers and entries of (V_ij - [i = j])².
    expected = 0.37 * sum(
        (v[i, j] - (1.0 if i == j else 0.0)) ** 2
        for v in values
        for i in range(len(v))
        for j in range(len(v))
    )
    penalty = value_penalty(model)()
    np.testing.assert_allclose(float(penalty.detach()), expected, rtol=1e-5)
    penalty.backward()  # it trains V: the gradient reaches the value weights
    assert all(p.grad is not None for n, p in model.fusion.named_parameters() if n.endswith("value.weight"))


def test_lambda_zero_adds_no_loss():
    assert value_penalty(fused_model(FusionSpec(regularization=0.0))) is None
