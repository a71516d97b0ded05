"""Hybrid retrieval (`fuse:`): hand-computed fusion values, ranx on real runs from the proxy, exclusions,
task binding, index-cache capability and option errors."""

from __future__ import annotations

import math

import pytest

from bright_eval.cache import ArtifactCache
from bright_eval.components import IndexCache, TaskBound
from bright_eval.data import LocalSource
from bright_eval.errors import BrightEvalError
from bright_eval.registry import split_top_level
from bright_eval.retrievers import RETRIEVERS
from bright_eval.retrievers.fusion import FusedRetriever, interpolate, normalise, parse, rrf

A = {"a": 3.0, "b": 2.0, "c": 1.0}
B = {"c": 0.9, "d": 0.5}


def test_rrf_by_hand():
    got = rrf([A, B], k=60)
    want = {"a": 1 / 61, "b": 1 / 62, "c": 1 / 63 + 1 / 61, "d": 1 / 62}
    assert got.keys() == want.keys()
    for d in want:
        assert got[d] == pytest.approx(want[d], abs=1e-15)
    assert rrf([A, B], k=0, weights=[2.0, 1.0])["c"] == pytest.approx(2 / 3 + 1 / 1)
    # a tie keeps the child's own order for ranks: 'y' was ranked first by the child
    assert rrf([{"y": 1.0, "x": 1.0}], k=0) == {"y": 1.0, "x": 0.5}


def test_interpolation_by_hand():
    mm = interpolate([A, B], [0.5, 0.5], "min-max")  # A -> a 1, b .5, c 0; B -> c 1, d 0
    assert mm == pytest.approx({"a": 0.5, "b": 0.25, "c": 0.5, "d": 0.0})
    z = normalise(A, "z-score")  # mean 2, population std sqrt(2/3)
    s = math.sqrt(2 / 3)
    assert z == pytest.approx({"a": 1 / s, "b": 0.0, "c": -1 / s})
    zb = normalise(B, "z-score")  # mean .7, std .2
    assert zb == pytest.approx({"c": 1.0, "d": -1.0})
    zi = interpolate([A, B], [0.3, 0.7], "z-score")
    assert zi == pytest.approx({"a": 0.3 / s, "b": 0.0, "c": -0.3 / s + 0.7, "d": -0.7})
    assert interpolate([A, B], [1, 1], "none") == pytest.approx({"a": 3, "b": 2, "c": 1.9, "d": 0.5})
    assert normalise({"x": 5.0}, "min-max") == {"x": 0.0}  # a single document: denominator floored, as ranx


def test_parse_and_split():
    assert parse("rrf(bm25,bge-large-en-v1.5)") == ("rrf", ["bm25", "bge-large-en-v1.5"])
    assert parse("interp(bm25(k1=1.2,b=0.3), fuse:rrf(a,b))") == ("interp", ["bm25(k1=1.2,b=0.3)", "fuse:rrf(a,b)"])
    assert split_top_level("bm25,fuse:rrf(bm25,x),y") == ["bm25", "fuse:rrf(bm25,x)", "y"]
    for bad, msg in (("rrf(bm25)", "two or more"), ("max(a,b)", "unknown fusion method"), ("rrf", "expected fuse"),
                     ("rrf(a,(b)", "unbalanced")):
        with pytest.raises(BrightEvalError, match=msg):
            parse(bad)


def test_registry_options_and_errors():
    r = RETRIEVERS.create("fuse:rrf(bm25,bm25-lucene)", cache=ArtifactCache())
    assert r.name == "fuse:rrf(bm25,bm25-lucene)"
    spec = r.spec()
    assert spec["method"] == "rrf" and spec["k"] == 60 and spec["depth"] == "k" and "norm" not in spec
    assert [c["name"] for c in spec["children"]] == ["bm25", "bm25-lucene"]
    r = RETRIEVERS.create("fuse:interp(bm25(k1=1.2),all-minilm-l6-v2)", {"norm": "z-score", "weights": [0.3, 0.7], "depth": 100},
                          cache=ArtifactCache())
    assert r.spec()["children"][0]["k1"] == 1.2 and r.spec()["norm"] == "z-score" and r.spec()["depth"] == 100
    assert r.name == "fuse:interp(bm25(k1=1.2),all-minilm-l6-v2)(depth=100,norm=z-score,weights=[0.3, 0.7])"
    assert RETRIEVERS.create("fuse:interp(bm25,bm25-lucene)").weights == [0.5, 0.5]
    for opts, msg in (({"norm": "z-score"}, "applies to interp"), ({"weights": [1]}, "list of 2 numbers"),
                      ({"depht": 3}, "Did you mean: depth"), ({"depth": 0}, "expected integer >= 1")):
        with pytest.raises(BrightEvalError, match=msg):
            RETRIEVERS.create("fuse:rrf(bm25,bm25-lucene)", opts)
    with pytest.raises(BrightEvalError, match="interp has no k"):
        RETRIEVERS.create("fuse:interp(bm25,bm25-lucene)", {"k": 10})
    with pytest.raises(BrightEvalError, match="unknown retriever 'bm26'"):
        RETRIEVERS.create("fuse:rrf(bm25,bm26)")


class _Ignores:
    """A child that returns a fixed run and ignores exclusions: the fused run must still drop them."""

    name = "fixed"

    def __init__(self, run):
        self.run, self.asked = run, []

    def spec(self):
        return {"name": self.name}

    def index(self, corpus):
        pass

    def search(self, queries, k=1000, exclude=None):
        self.asked.append(k)
        return {q: dict(list(self.run.get(q, {}).items())[:k]) for q in queries}


def test_exclusions_depth_and_capabilities():
    a, b = _Ignores({"q": A}), _Ignores({"q": B})
    fused = FusedRetriever("rrf", [a, b], depth=2)
    assert not isinstance(fused, IndexCache)  # a child that cannot tell makes the hybrid unable to tell
    run = fused.search({"q": "text", "r": "other"}, k=3, exclude={"q": {"c"}})
    assert a.asked == [2] and b.asked == [2]
    assert run["r"] == {}
    assert "c" not in run["q"] and list(run["q"]) == ["a", "b", "d"]  # b and d tie at 1/62: doc id decides
    assert fused.search({"q": "t"}, k=1) == {"q": {"a": 1 / 61}}  # c is 2 deep in A: only B's 1/61 counts; a ties, wins on id
    deeper = FusedRetriever("rrf", [a, b], depth=3)
    assert deeper.search({"q": "t"}, k=1) == {"q": {"c": pytest.approx(1 / 61 + 1 / 63)}}


def trec_order_scores(run: dict[str, float]) -> dict[str, float]:
    """The run's trec_eval order (usnistgov/trec_eval form_res_rels.c comp_sim_docno: score descending,
    then strcmp(docno) descending) as strictly decreasing scores."""
    order = sorted(run, key=lambda d: (run[d], d.encode()), reverse=True)
    return {d: float(len(order) - i) for i, d in enumerate(order)}


def test_trec_eval_puts_the_highest_doc_id_first_among_ties():
    import pytrec_eval

    run = {"q": {"a": 1.0, "c": 1.0, "b": 1.0}}
    rr = {top: pytrec_eval.RelevanceEvaluator({"q": {top: 1}}, {"recip_rank"}).evaluate(run)["q"]["recip_rank"] for top in "abc"}
    assert rr == {"c": 1.0, "b": 0.5, "a": pytest.approx(1 / 3)}


@pytest.mark.slow  # ranx compiles its numba kernels on first use
def test_rrf_ranks_ties_in_trec_eval_order_as_ranx():
    import random

    ranx = pytest.importorskip("ranx")
    rng = random.Random(7)
    members: list[dict[str, dict[str, float]]] = [{}, {}]
    for q in range(30):
        for i, m in enumerate(members):
            docs = [f"d{rng.randrange(60):02d}" for _ in range(25)]
            scores = {d: float(rng.choice((1, 2, 2, 3, 3, 3))) / (i + 1) for d in docs}  # many ties
            # each member lists its ties in its own order (ascending ids, or shuffled), not trec_eval's
            items = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])) if i == 0 else rng.sample(list(scores.items()), len(scores))
            m[str(q)] = dict(items)
    theirs = ranx.fuse([ranx.Run({q: trec_order_scores(r) for q, r in m.items()}) for m in members], method="rrf",
                       params={"k": 60}).to_dict()
    tied = 0
    for q in members[0]:
        ours = rrf([m[q] for m in members], 60)
        assert set(ours) == set(theirs[q])
        assert ours == pytest.approx(theirs[q], abs=1e-9), q
        tied += any(len(set(m[q].values())) < len(m[q]) for m in members)
        # the same run read back in another order fuses the same
        assert rrf([dict(reversed(list(m[q].items()))) for m in members], 60) == ours
    assert tied == 30


@pytest.fixture(scope="module")
def proxy_runs(make_proxy, tmp_path_factory):
    """Real runs of BM25 and all-MiniLM-L6-v2 on a small answer-retrieval proxy, through `fuse:`."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    data = make_proxy(tmp_path_factory.mktemp("fproxy"), 25, ("biology", "economics"))
    src = LocalSource(data)
    exs = src.examples("biology")
    corpus = src.documents("biology")
    cache = ArtifactCache(tmp_path_factory.mktemp("fcache"))
    fused = RETRIEVERS.create("fuse:rrf(bm25,all-minilm-l6-v2)", {"depth": 30}, cache=cache)
    assert isinstance(fused, TaskBound) and isinstance(fused, IndexCache)
    bound = fused.for_task("biology")
    assert fused.children[1].task is None and bound.children[1].task == "biology"  # a copy; the original is untouched
    assert not bound.is_cached(corpus.fingerprint)
    bound.index(corpus)
    assert bound.is_cached(corpus.fingerprint)
    queries = {e.id: e.query for e in exs}
    runs = [c.search(queries, k=30) for c in bound.children]
    return bound, queries, runs, exs, corpus


@pytest.mark.slow
def test_fusion_matches_ranx_on_real_runs(proxy_runs):
    ranx = pytest.importorskip("ranx")
    bound, queries, runs, _, _ = proxy_runs
    ours_rrf = {q: rrf([r[q] for r in runs], 60) for q in queries}
    # ranx breaks score ties itself (np.argsort), so it gets each child in trec_eval's order, as tie-free scores.
    theirs = ranx.fuse([ranx.Run({q: trec_order_scores(r[q]) for q in queries}) for r in runs], method="rrf",
                       params={"k": 60}).to_dict()
    for q in queries:
        assert theirs[q] == pytest.approx(ours_rrf[q], abs=1e-9), q
    for norm, rx_norm in (("min-max", "min-max"), ("z-score", "zmuv")):
        w = [0.3, 0.7]
        theirs = ranx.fuse([ranx.Run({q: r[q] for q in queries}) for r in runs], norm=rx_norm, method="wsum",
                           params={"weights": w}).to_dict()
        for q in queries:
            ours = interpolate([r[q] for r in runs], w, norm)
            assert theirs[q] == pytest.approx(ours, abs=1e-9), (norm, q)


@pytest.mark.slow
def test_fused_search_on_real_runs(proxy_runs):
    from bright_eval.scoring import evaluate_run, mean_metrics

    bound, queries, runs, exs, corpus = proxy_runs
    qid = exs[0].id
    own = exs[0].gold_ids[0]
    fused = bound.search(queries, k=10, exclude={qid: {own}})
    assert own not in fused[qid] and all(len(v) == 10 for v in fused.values())
    first = exs[1].id  # not the query with the exclusion
    assert fused[first] == pytest.approx(dict(sorted(rrf([r[first] for r in runs]).items(), key=lambda kv: (-kv[1], kv[0]))[:10]))
    # the hybrid is at least as good as the weaker child on real text, and the children's own answers rank high
    ndcg = {name: mean_metrics(evaluate_run(run, exs, 10))["ndcg@10"]
            for name, run in (("bm25", runs[0]), ("dense", runs[1]), ("fused", bound.search(queries, k=10)))}
    assert ndcg["fused"] >= min(ndcg["bm25"], ndcg["dense"]), ndcg
    assert ndcg["fused"] > 0.5, ndcg


class _Engine(_Ignores):
    """A child that says what computed it (components.RanWith), as dense retrievers do."""

    name = "dense-child"

    def ran_with(self):
        return {"queries": {"backend": "openvino"}}


def test_hybrid_reports_its_childrens_engines_by_name():
    fused = FusedRetriever("rrf", [_Ignores({"q": A}), _Engine({"q": B})])
    assert fused.ran_with() == {"dense-child": {"queries": {"backend": "openvino"}}}  # children without one are left out
