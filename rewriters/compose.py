"""How a rewrite becomes the retrieval query. TongSearch-QR's protocol replaces the query with the
reasoned text; concatenating keeps the original terms, which BM25 may still need."""

from __future__ import annotations

import logging
from collections import Counter

from bright_eval.errors import BrightEvalError

log = logging.getLogger(__name__)

MODES = ("replace", "original+rewrite")


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise BrightEvalError(f"--compose must be one of {', '.join(MODES)}, got '{mode}'")
    return mode


def compose(original: str, rewrite: str, mode: str) -> str:
    if mode == "replace":
        return rewrite
    return f"{original}\n\n{rewrite}"



def compose_each(rewriter: str, queries, rewrites: list[str], mode: str, stats, empty: str = "empty rewrite") -> list[str]:
    """Each query's retrieval text. An empty rewrite would retrieve nothing, so the original query is
    used for it instead: counted in `stats.fallback`, named in `stats.failed`, and reported on the
    terminal with the count per task (a run made of fallbacks measures the original queries)."""
    out: list[str] = []
    fell_back: Counter[str] = Counter()
    for q, text in zip(queries, rewrites):
        if text.strip():
            out.append(compose(q.text, text, mode))
            continue
        stats.failed[f"{q.task}/{q.id}"] = f"{empty}: original query used"
        stats.fallback += 1
        fell_back[q.task] += 1
        out.append(q.text)
    for task, n in fell_back.items():
        total = sum(q.task == task for q in queries)
        log.warning("%s: %d of %d rewrites for task %s are empty (%s); the original query was used for them%s", rewriter, n, total,
                    task, empty, "; this run measures the original queries, not the rewriter" if n == total else "")
    return out
