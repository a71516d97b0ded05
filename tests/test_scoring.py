"""BRIGHT's scoring protocol: exclusion before the cut, hand-computed nDCG, missing queries count 0."""

import math

import pytest

from bright_eval.data import Example
from bright_eval.scoring import apply_protocol, evaluate_run, mean_metrics


def ex(qid, gold, excluded=()):
    return Example(id=qid, query=f"query {qid}", gold_ids=list(gold), excluded_ids=list(excluded))


def test_ndcg_matches_hand_computation():
    examples = [ex("q1", ["d1", "d2"])]
    run = {"q1": {"d3": 4.0, "d1": 3.0, "d4": 2.0, "d2": 1.0}}
    got = evaluate_run(run, examples)["q1"]
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3)
    assert got["ndcg@10"] == pytest.approx(dcg / idcg, abs=1e-12)
    assert got["mrr@10"] == pytest.approx(0.5)
    assert got["p@5"] == pytest.approx(2 / 5)
    assert got["recall@10"] == pytest.approx(1.0)
    assert got["map"] == pytest.approx((1 / 2 + 2 / 4) / 2)


def test_excluded_ids_are_removed_before_scoring():
    examples = [ex("q1", ["d1", "d2"], excluded=["d3"])]
    run = {"q1": {"d3": 4.0, "d1": 3.0, "d4": 2.0, "d2": 1.0}}
    got = evaluate_run(run, examples)["q1"]
    assert got["ndcg@10"] == pytest.approx((1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)), abs=1e-12)
    assert got["mrr@10"] == 1.0


def test_exclusion_happens_before_the_top_k_cut():
    # With k=2, excluding d3 must let d2 into the ranking (BRIGHT pops excluded ids, then keeps the top k).
    examples = [ex("q1", ["d2"], excluded=["d3"])]
    run = {"q1": {"d3": 3.0, "d1": 2.0, "d2": 1.0}}
    assert apply_protocol(run, examples, top_k=2)["q1"] == {"d1": 2.0, "d2": 1.0}
    assert evaluate_run(run, examples, top_k=2)["q1"]["recall@10"] == 1.0


def test_na_placeholder_means_nothing_excluded():
    e = Example.from_record({"id": "1", "query": "q", "gold_ids": ["a"], "excluded_ids": ["N/A"]}, "x")
    assert e.excluded_ids == []
    assert evaluate_run({"1": {"a": 1.0}}, [e])["1"]["ndcg@10"] == 1.0


def test_query_missing_from_run_scores_zero_in_the_mean():
    examples = [ex("q1", ["d1"]), ex("q2", ["d2"])]
    per_query = evaluate_run({"q1": {"d1": 1.0}}, examples)
    assert set(per_query) == {"q1", "q2"}
    assert per_query["q2"]["ndcg@10"] == 0.0
    assert mean_metrics(per_query)["ndcg@10"] == pytest.approx(0.5)


def test_ties_follow_trec_eval_order():
    # trec_eval breaks score ties by doc id descending, whatever the rank column says.
    examples = [ex("q1", ["a"])]
    run = {"q1": {"a": 1.0, "b": 1.0}}
    assert evaluate_run(run, examples)["q1"]["mrr@10"] == 0.5
