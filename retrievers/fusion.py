"""Hybrid retrieval: `fuse:<method>(<retriever>,<retriever>,...)` combines the runs of two or more
retrievers.

* `rrf`: reciprocal-rank fusion (Cormack et al. 2009), score(d) = sum_i w_i / (k + rank_i(d)), rank
  1-based in each child's run; a document missing from a child's run gets nothing from it.
* `interp`: score interpolation, score(d) = sum_i w_i * norm_i(d), each child's scores normalised per
  query (`min-max`, `z-score`, or `none`); a document missing from a child's run counts 0 there, after
  normalisation. These are ranx's `rrf` and `wsum` conventions (min-max and z-score with a 1e-9 floor on
  the denominator, population standard deviation), checked against ranx in tests/test_fusion.py.

Each child is taken `depth` documents deep (default: the search's k, so 1000 under BRIGHT's protocol).
Excluded documents are removed by the children (before their own cut) and again from the fused run.
A child's ranks are those of trec_eval's order of its run (score descending, then doc id descending);
the fused cut breaks ties by doc id.
"""

from __future__ import annotations

import copy
import math
import re

from bright_eval.components import IndexCache, RanWith, Releasable, Retriever, RetrieverStats, bind
from bright_eval.errors import BrightEvalError
from bright_eval.registry import split_options, split_top_level
from bright_eval.trec import ranked as trec_ranked

METHODS = ("rrf", "interp")
NORMS = ("min-max", "z-score", "none")
Scores = dict[str, float]


# -- parsing ---------------------------------------------------------------------------------------
def parse(arg: str) -> tuple[str, list[str]]:
    """'rrf(bm25,bge-large-en-v1.5)' -> ('rrf', ['bm25', 'bge-large-en-v1.5'])."""
    m = re.fullmatch(r"\s*([a-z-]+)\s*\((.*)\)\s*", arg, flags=re.S)
    if not m:
        raise BrightEvalError(f"fuse:{arg}: expected fuse:<method>(<retriever>,<retriever>,...), method one of {', '.join(METHODS)}")
    method, inner = m.group(1), m.group(2)
    if method not in METHODS:
        raise BrightEvalError(f"fuse:{arg}: unknown fusion method '{method}'; known: {', '.join(METHODS)}")
    children = split_top_level(inner)
    if len(children) < 2 or not all(children):
        raise BrightEvalError(f"fuse:{arg}: needs two or more retrievers separated by commas")
    return method, children


def create_child(spec: str, cache=None) -> Retriever:
    """A child by registry name, optionally with options: 'bm25' or 'bm25(k1=1.2,b=0.5)'. A name the
    registry knows as a whole (e.g. a nested 'fuse:rrf(a,b)') is taken as it is."""
    from . import RETRIEVERS

    name, options = split_options(spec)
    return RETRIEVERS.create(name, options, cache=cache)


# -- fusion ----------------------------------------------------------------------------------------
def ranked(scores: Scores) -> list[str]:
    """Doc ids in trec_eval's order of the run: score descending, then doc id descending
    (usnistgov/trec_eval form_res_rels.c, comp_sim_docno), the order in which `evaluate` scores the
    child. Not the child's own output order: the same run read back from its file must fuse the same."""
    return [d for d, _ in trec_ranked(scores)]


def rrf(runs: list[Scores], k: float = 60, weights: list[float] | None = None) -> Scores:
    weights = weights or [1.0] * len(runs)
    out: Scores = {}
    for w, run in zip(weights, runs):
        for rank, doc in enumerate(ranked(run), start=1):
            out[doc] = out.get(doc, 0.0) + w / (k + rank)
    return out


def normalise(scores: Scores, norm: str) -> Scores:
    if not scores or norm == "none":
        return dict(scores)
    vals = list(scores.values())
    if norm == "min-max":
        lo, hi = min(vals), max(vals)
        den = max(hi - lo, 1e-9)  # one document, or all equal: everything maps to 0, as in ranx
        return {d: (s - lo) / den for d, s in scores.items()}
    if norm == "z-score":
        mean = math.fsum(vals) / len(vals)
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in vals) / len(vals))
        den = max(std, 1e-9)
        return {d: (s - mean) / den for d, s in scores.items()}
    raise BrightEvalError(f"unknown normalisation '{norm}'; known: {', '.join(NORMS)}")


def interpolate(runs: list[Scores], weights: list[float], norm: str = "min-max") -> Scores:
    normed = [normalise(r, norm) for r in runs]
    docs: dict[str, None] = {}
    for r in normed:
        docs.update(dict.fromkeys(r))
    return {d: math.fsum(w * r.get(d, 0.0) for w, r in zip(weights, normed)) for d in docs}


def cut(scores: Scores, k: int) -> Scores:
    top = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return dict(top)


# -- the retriever ---------------------------------------------------------------------------------
class FusedRetriever:
    def __init__(self, method: str, children: list[Retriever], k: float = 60, weights: list[float] | None = None,
                 norm: str = "min-max", depth: int | None = None, name: str = ""):
        if method not in METHODS:
            raise BrightEvalError(f"unknown fusion method '{method}'; known: {', '.join(METHODS)}")
        if norm not in NORMS:
            raise BrightEvalError(f"fuse: unknown norm '{norm}'; known: {', '.join(NORMS)}")
        if weights is not None:
            if not isinstance(weights, list) or len(weights) != len(children) or not all(isinstance(w, (int, float)) for w in weights):
                raise BrightEvalError(f"fuse: weights must be a list of {len(children)} numbers, one per retriever, got {weights!r}")
        if not (isinstance(k, (int, float)) and k >= 0):
            raise BrightEvalError(f"fuse: k must be a number >= 0, got {k!r}")
        if depth is not None and not (isinstance(depth, int) and depth > 0):
            raise BrightEvalError(f"fuse: depth must be a positive integer, got {depth!r}")
        self.method, self.children, self.k, self.norm, self.depth = method, children, k, norm, depth
        # rrf sums reciprocal ranks; interp averages normalised scores (so the scale stays that of one run)
        self.weights = [float(w) for w in weights] if weights is not None else (
            [1.0] * len(children) if method == "rrf" else [1.0 / len(children)] * len(children))
        self.name = name or f"fuse:{method}(" + ",".join(c.name for c in children) + ")"

    def for_task(self, task: str, long_documents: bool = False) -> FusedRetriever:
        bound = copy.copy(self)
        bound.children = [bind(c, task, long_documents) for c in self.children]
        return bound

    def spec(self) -> dict:
        out = {"name": self.name, "kind": "fusion", "method": self.method, "weights": self.weights,
               "depth": self.depth if self.depth is not None else "k", "children": [c.spec() for c in self.children]}
        if self.method == "rrf":
            out["k"] = self.k
        else:
            out["norm"] = self.norm
        return out

    @property
    def stats(self) -> dict:
        """Children's counters (API calls, tokens, cost), by child name."""
        return {c.name: c.stats for c in self.children if isinstance(c, RetrieverStats)}

    def ran_with(self) -> dict:
        """Children's engines (components.RanWith), by child name."""
        return {c.name: c.ran_with() for c in self.children if isinstance(c, RanWith)}

    def index(self, corpus) -> None:
        for c in self.children:
            c.index(corpus)

    def release(self) -> None:
        for c in self.children:
            if isinstance(c, Releasable):
                c.release()

    def fuse(self, runs: list[Scores]) -> Scores:
        if self.method == "rrf":
            return rrf(runs, self.k, self.weights)
        return interpolate(runs, self.weights, self.norm)

    def search(self, queries: dict[str, str], k: int = 1000, exclude: dict[str, set[str]] | None = None):
        depth = self.depth or k
        runs = [c.search(queries, k=depth, exclude=exclude) for c in self.children]
        exclude = exclude or {}
        out = {}
        for qid in queries:
            fused = self.fuse([r.get(qid, {}) for r in runs])
            gone = exclude.get(qid, ())
            out[qid] = cut({d: s for d, s in fused.items() if d not in gone}, k)
        return out


class CachedFusedRetriever(FusedRetriever):
    """Used when every child can tell whether its index is cached (components.IndexCache)."""

    def is_cached(self, corpus_fingerprint: str) -> bool:
        return all(c.is_cached(corpus_fingerprint) for c in self.children)


def make(arg: str, cache=None, k: float = 60, weights: list[float] | None = None, norm: str = "min-max",
         depth: int | None = None) -> FusedRetriever:
    method, specs = parse(arg)
    if method == "rrf" and norm != "min-max":
        raise BrightEvalError(f"fuse:{arg}: 'norm' applies to interp, not rrf (which uses ranks)")
    if method == "interp" and k != 60:
        raise BrightEvalError(f"fuse:{arg}: 'k' is rrf's rank constant; interp has no k")
    children = [create_child(s, cache=cache) for s in specs]
    cls = CachedFusedRetriever if all(isinstance(c, IndexCache) for c in children) else FusedRetriever
    return cls(method, children, k=k, weights=weights, norm=norm, depth=depth)
