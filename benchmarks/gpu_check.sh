#!/usr/bin/env bash
# One short check of the GPU paths on a rented GPU (H100/H200: PyTorch, transformers,
# sentence-transformers, accelerate, peft; no vLLM, no TRL, no internet), under 8 minutes:
#   bash benchmarks/gpu_check.sh            # -> results/benchmarks/gpu_check.json
#   bash benchmarks/gpu_check.sh --smoke    # the same steps with tiny shapes on CPU (any machine)
# Wheels the machine lacks (TRL, and bright-eval's own light dependencies) are carried in .whl/
# (git-ignored; fill it with `pip download --no-deps -d .whl trl typer rich pytrec-eval-terrier`),
# installed without their dependencies and without an index.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 BRIGHT_EVAL_NO_PROGRESS=1 TOKENIZERS_PARALLELISM=false
if compgen -G ".whl/*.whl" > /dev/null; then
    $PY -m pip install -q --no-index --no-deps .whl/*.whl
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # this checkout, even where another bright-eval is installed
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
exec timeout 470 $PY benchmarks/gpu_check.py "$@"
