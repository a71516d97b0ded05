"""A small real results folder for the explorer's tests: `matrix` on a copy of tiny_bright with a
published-style rewrite set (`bright:gpt4`, written here), BM25 in both flavours, their fusion and an
embedding reranker (the test extra's all-MiniLM-L6-v2), so that diffs, excluded ids (leetcode), first
stages and fused children all occur. Built once per session."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

REWRITES = {  # (task, qid) -> a rewrite that adds and drops words
    ("biology", "0"): "Why are moths attracted to lamps at night? Phototaxis and navigation by moonlight, not heat.",
    ("biology", "2"): "Why do veins look blue? Light scattering in skin; hemoglobin makes blood red.",
    ("leetcode", "0"): "trapping rain water elevation map two pointers compute water trapped",
}
RETRIEVERS = "bm25,bm25-lucene,fuse:rrf(bm25,bm25-lucene)"


def build(tiny: Path, root: Path) -> tuple[Path, Path]:
    """(data dir, results dir) under `root`."""
    from bright_eval.cli import main

    data = root / "data"
    shutil.copytree(tiny, data)
    for task in ("biology", "leetcode"):
        rows = [json.loads(line) for line in (data / task / "examples.jsonl").read_text().splitlines() if line.strip()]
        out = [{"id": r["id"], "query": REWRITES.get((task, r["id"]), r["query"] + " explained")} for r in rows]
        (data / task / "reasoning").mkdir()
        (data / task / "reasoning" / "gpt4.jsonl").write_text("".join(json.dumps(r) + "\n" for r in out))
    results = root / "runs"
    argv, env = sys.argv, dict(os.environ)
    os.environ.update(BRIGHT_EVAL_CACHE=str(root / "cache"), BRIGHT_EVAL_NO_PROGRESS="1", HF_HUB_OFFLINE="1")
    sys.argv = ["bright-eval", "matrix", "--rewriters", "original,bright:gpt4", "--retrievers", RETRIEVERS,
                "--rerankers", "embed:all-minilm-l6-v2", "--tasks", "biology,leetcode", "--data-dir", str(data),
                "--results-dir", str(results)]
    try:
        main()
    except SystemExit as exc:
        assert not exc.code, f"matrix failed with exit {exc.code}"
    finally:
        sys.argv = argv
        os.environ.clear()
        os.environ.update(env)
    return data, results
