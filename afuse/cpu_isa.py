"""Pin the CPU instruction set of torch's kernels, so that a run reproduces on another machine.

The same computation gives results a few last bits apart with kernels built for AVX2 and for
AVX-512 (their reductions add in another order), and training compounds the difference: the
cpu_minilm runs, made on an AVX2 machine, came out 1e-6 apart in their validation losses when
rerun on an AVX-512 one. `trainer.cpu_isa=avx2` makes a newer machine run the AVX2 kernels of
ATen, MKL and oneDNN, and then the reruns match to the last digit (results/cpu_minilm/README.md).

The choice is read when torch first runs a kernel, so it must be made before: `pin_cpu_isa` runs
first thing in every training command, and fails with a clear message when it is too late.
"""

import os

from afuse.errors import ConfigError

# trainer.cpu_isa -> the settings torch (ATen), MKL and oneDNN read on first use.
ISAS = {
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "avx512": {
        "ATEN_CPU_CAPABILITY": "avx512",
        "MKL_ENABLE_INSTRUCTIONS": "AVX512",
        "ONEDNN_MAX_CPU_ISA": "AVX512_CORE",
    },
}


def pin_cpu_isa(isa: str | None) -> None:
    """Use `isa`'s kernels in this process (None: whatever the machine has, torch's default)."""
    if isa is None:
        return
    if str(isa) not in ISAS:
        raise ConfigError(f"trainer.cpu_isa={isa!r} is not known; valid: {', '.join(ISAS)} (or null)")
    import torch

    os.environ.update(ISAS[str(isa)])
    running = torch.backends.cpu.get_cpu_capability().lower()
    if running != str(isa):
        raise ConfigError(
            f"trainer.cpu_isa={isa}: this process already runs {running} kernels (or the CPU lacks {isa}); "
            f"start afuse with ATEN_CPU_CAPABILITY={isa} MKL_ENABLE_INSTRUCTIONS={ISAS[str(isa)]['MKL_ENABLE_INSTRUCTIONS']} set"
        )
