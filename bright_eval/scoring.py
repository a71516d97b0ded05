"""Scoring under BRIGHT's protocol with pytrec_eval.

Per query, `excluded_ids` are removed from the ranking before it is cut at 1000 (BRIGHT pops them
from the score dict, then sorts and keeps the top 1000); relevance is `gold_ids` at grade 1; the
headline is nDCG@10 averaged over queries, then over tasks with equal weight. A query missing from
the run scores 0 rather than silently dropping out of the average.
"""

from __future__ import annotations

from statistics import fmean

from .data import Example
from .trec import Qrels, Run, ranked

HEADLINE = "ndcg@10"
METRICS = ("ndcg@10", "recall@10", "recall@100", "recall@1000", "map", "mrr@10", "p@5", "p@10")
_PYTREC = {
    "ndcg@10": "ndcg_cut_10",
    "recall@10": "recall_10",
    "recall@100": "recall_100",
    "recall@1000": "recall_1000",
    "map": "map",
    "p@5": "P_5",
    "p@10": "P_10",
}


def qrels_from_examples(examples: list[Example]) -> Qrels:
    return {ex.id: {g: 1 for g in ex.gold_ids} for ex in examples}


def apply_protocol(run: Run, examples: list[Example], top_k: int = 1000) -> Run:
    """Drop excluded ids, then keep the top `top_k` per query (BRIGHT's order of operations)."""
    excluded = {ex.id: set(ex.excluded_ids) for ex in examples}
    out: Run = {}
    for qid, docs in run.items():
        drop = excluded.get(qid, set())
        kept = [(d, s) for d, s in ranked(docs) if d not in drop]
        out[qid] = dict(kept[:top_k])
    return out


def _cut(run: Run, k: int) -> Run:
    return {qid: dict(ranked(docs)[:k]) for qid, docs in run.items()}


def evaluate_run(run: Run, examples: list[Example], top_k: int = 1000) -> dict[str, dict[str, float]]:
    """Per-query metrics {qid: {metric: value}} for every query in `examples`."""
    import pytrec_eval

    qrels = qrels_from_examples(examples)
    run = apply_protocol(run, examples, top_k)
    # pytrec_eval needs at least one judged query; queries without gold are not scorable (BRIGHT has none).
    qrels = {q: r for q, r in qrels.items() if r}
    measures = {"ndcg_cut.10", "recall.10,100,1000", "map", "P.5,10"}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    mrr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(_cut(run, 10))
    out: dict[str, dict[str, float]] = {}
    for qid in qrels:
        vals = per_query.get(qid, {})
        row = {name: float(vals.get(key, 0.0)) for name, key in _PYTREC.items()}
        row["mrr@10"] = float(mrr.get(qid, {}).get("recip_rank", 0.0))
        out[qid] = {m: row[m] for m in METRICS}
    return out


def mean_metrics(per_query: dict[str, dict[str, float]]) -> dict[str, float]:
    if not per_query:
        return {m: 0.0 for m in METRICS}
    return {m: fmean(v[m] for v in per_query.values()) for m in METRICS}
