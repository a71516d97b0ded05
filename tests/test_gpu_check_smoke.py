"""benchmarks/gpu_check.sh is the one script a lent GPU gets, run once with no chance to debug: its
`--smoke` mode (the same steps at tiny shapes on the CPU) runs here so the script cannot drift from
the library it calls. It measures nothing useful on a CPU; only that every step ends with its figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytest.importorskip("trl", reason="the GRPO steps need TRL (the train extra)")


@pytest.mark.slow
def test_gpu_check_smoke_runs_every_step(tmp_path):
    out = tmp_path / "gpu_check.json"
    env = {**os.environ, "PYTHON": sys.executable}
    res = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh"), "--smoke", "--out", str(out), "--work", str(tmp_path / "w")],
                         capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(out.read_text())
    figures = report["figures"]
    assert report["smoke"] is True
    assert figures["rewrite_transformers"]["completion_tokens"] == 8 * 8  # 8 queries forced to 8 new tokens each
    for dtype in ("float32", "bfloat16"):
        enc = figures["encode_bge_large_shape"][dtype]
        assert enc["ours_docs_per_s"] > 0 and enc["sentence_transformers_docs_per_s"] > 0
    for step in ("grpo_tiny_bf16", "grpo_tsqr_1.5b_shape"):
        assert [row["step"] for row in figures[step]["log"]] == [1, 2, 3], step
