"""trainer.cpu_isa: the kernels a training process runs, chosen before torch's first kernel."""

import os
import subprocess
import sys

import pytest

from afuse.cpu_isa import pin_cpu_isa
from afuse.errors import ConfigError
from afuse.paths import conf_dir

pytestmark = pytest.mark.slow  # child processes: the choice is made once per process


def capability_after(setting: str) -> subprocess.CompletedProcess:
    code = (
        "import torch; from afuse.cpu_isa import pin_cpu_isa; "
        f"pin_cpu_isa({setting!r}); x = torch.randn(8, 8) @ torch.randn(8, 8); "
        "print(torch.backends.cpu.get_cpu_capability())"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS")}
    env["PYTHONPATH"] = str(conf_dir().parent)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_avx2_is_pinned_before_the_first_kernel():
    result = capability_after("avx2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "AVX2"


def test_too_late_or_unknown_is_a_clear_error(monkeypatch):
    import torch

    monkeypatch.setattr(os, "environ", os.environ.copy())  # later child processes keep the default

    torch.ones(2).sum()  # this process has run kernels already
    running = torch.backends.cpu.get_cpu_capability().lower()
    other = "avx2" if running != "avx2" else "avx512"
    with pytest.raises(ConfigError, match=f"already runs {running} kernels"):
        pin_cpu_isa(other)
    with pytest.raises(ConfigError, match="valid: avx2, avx512"):
        pin_cpu_isa("sse4")
