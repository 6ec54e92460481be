"""The adapter non-linearities afuse supports, by name, and the check of a configured one.

Torch-free, so that `afuse.validate` refuses a misspelt `adapter.non_linearity` before torch is
imported (a finished run is skipped without importing it at all); the functions themselves are
in afuse.modeling.adapters.

AdapterHub's non-linearities (transformers' ACT2FN under the lower-cased name, plus "leakyrelu").
Each name maps to the function that computes it: aliases map to the same one, so fusion can tell
that sources compute the same. Every one maps 0 to 0: fusion relies on it to pad adapters of
different widths. (sigmoid and laplace do not, prelu and xielu have weights of their own: refused.)
"""

from afuse.errors import ConfigError

NON_LINEARITIES = {
    "relu": "relu",
    "swish": "silu",
    "silu": "silu",
    "gelu": "gelu",  # exact (erf) GELU, as transformers' ACT2FN["gelu"] used by AdapterHub
    "gelu_python": "gelu",
    "gelu_new": "gelu_tanh",  # the tanh approximation; gelu_fast / gelu_accurate write it differently
    "gelu_pytorch_tanh": "gelu_tanh",
    "gelu_fast": "gelu_tanh",
    "gelu_accurate": "gelu_tanh",
    "gelu_10": "gelu_clipped",
    "quick_gelu": "quick_gelu",
    "leaky_relu": "leaky_relu",  # slope 0.01, as AdapterHub's "leakyrelu"
    "leakyrelu": "leaky_relu",
    "tanh": "tanh",
    "mish": "mish",
    "relu6": "relu6",
    "relu2": "relu_squared",
    "linear": "identity",
}


def is_non_linearity(name: str) -> bool:
    return name.lower() in NON_LINEARITIES


def check_non_linearity(name: str) -> str:
    """The function `name` stands for (aliases give the same one); ConfigError listing the valid names."""
    try:
        return NON_LINEARITIES[name.lower()]
    except KeyError:
        raise ConfigError(
            f"adapter.non_linearity={name!r} is not supported; valid: {', '.join(NON_LINEARITIES)}"
        ) from None
