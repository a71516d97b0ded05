"""Scoring under BRIGHT's protocol with pytrec_eval.

Per query, `excluded_ids` are removed from the ranking before it is cut at 1000 (BRIGHT pops them
from the score dict, then sorts and keeps the top 1000); relevance is `gold_ids` at grade 1; the
headline is nDCG@10 averaged over queries, then over tasks with equal weight. A query missing from
the run scores 0 rather than silently dropping out of the average. A query with no `gold_ids` cannot
be scored (nDCG is undefined): it is left out of the averages with a warning that gives the count
(`unjudged` lists them); BRIGHT itself has no such query. Non-finite scores are an error.
"""

from __future__ import annotations

import logging
import math
from statistics import fmean
from typing import TYPE_CHECKING

from .errors import BrightEvalError
from .trec import Qrels, Run, ranked

if TYPE_CHECKING:  # annotations only: the CLI imports HEADLINE for --help, which needs no data loader
    from .data import Example

log = logging.getLogger(__name__)

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


def unjudged(examples: list[Example]) -> list[str]:
    """Ids of queries without gold ids: they are excluded from every average."""
    return [ex.id for ex in examples if not ex.gold_ids]


def check_finite(run: Run, examples: list[Example]) -> None:
    """NaN breaks the sort that ranks documents, so metrics would depend on input order. -inf is
    tolerated on excluded documents only, which is how BRIGHT marks them; they are dropped anyway."""
    excluded = {ex.id: ex.excluded_ids for ex in examples}
    for qid, docs in run.items():
        for docid, score in docs.items():
            if not math.isfinite(score) and docid not in excluded.get(qid, ()):
                raise BrightEvalError(f"run for query '{qid}': field 'score' of doc '{docid}' is {score}; "
                                      f"expected a finite number (NaN/inf make the ranking undefined)")


def _cut(run: Run, k: int) -> Run:
    return {qid: dict(ranked(docs)[:k]) for qid, docs in run.items()}


def evaluate_run(run: Run, examples: list[Example], top_k: int = 1000) -> dict[str, dict[str, float]]:
    """Per-query metrics {qid: {metric: value}} for every query in `examples`."""
    import pytrec_eval

    check_finite(run, examples)
    missing_gold = unjudged(examples)
    if examples and len(missing_gold) == len(examples):
        raise BrightEvalError(f"none of the {len(examples)} queries has gold_ids, so there is nothing to score; "
                              f"expected field 'gold_ids' to list relevant document ids")
    if missing_gold:
        log.warning("%d of %d queries have no gold_ids and are excluded from the averages (ids %s%s)", len(missing_gold),
                    len(examples), ", ".join(missing_gold[:5]), ", ..." if len(missing_gold) > 5 else "")
    run = apply_protocol(run, examples, top_k)
    qrels = {q: r for q, r in qrels_from_examples(examples).items() if r}
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
