"""Both BM25 flavours against values computed by hand on a 3-document corpus, plus the protocol
details a user relies on: exclusion before the cut, BRIGHT's zero-score fill, the on-disk cache."""

import numpy as np
import pytest

from bright_eval.cache import ArtifactCache
from bright_eval.data import Corpus
from bright_eval.retrievers.bm25 import BM25Retriever, lucene_quantized_length


class Whitespace:
    fingerprint = "whitespace-test"

    def __call__(self, text):
        return text.split()


DOCS = Corpus(["d1", "d2", "d3"], ["a b b", "b c", "c c c d"])
# N=3, avgdl=3, k1=0.9, b=0.4; idf(a)=ln(1+2.5/1.5)=0.980829, idf(b)=ln(1+1.5/2.5)=0.470004.
# Query "b b a" (|q|=3). BRIGHT: w(t,x)=idf*tf/(tf+0.9*(0.6+0.4*|x|/3)), score = sum_t w(t,q)*w(t,d)
#   d1 (|d|=3): w(b,q)=w(b,d1)=0.470004*2/2.9=0.324140, w(a,q)=w(a,d1)=0.980829/1.9=0.516226
#               -> 0.324140^2 + 0.516226^2 = 0.3715562
#   d2 (|d|=2): w(b,d2)=0.470004/1.78=0.264047 -> 0.324140*0.264047 = 0.0855883
# Lucene: score = sum_t qtf*idf*tf/(tf+norm): d1 = 2*0.324140 + 0.516226 = 1.1645068, d2 = 2*0.264047 = 0.5280940
HAND = {"bright": {"d1": 0.3715562, "d2": 0.0855883}, "lucene": {"d1": 1.1645068, "d2": 0.5280940}}


@pytest.mark.parametrize("flavour", ["bright", "lucene"])
def test_scores_equal_hand_computed_values(flavour):
    r = BM25Retriever(flavour=flavour, analyzer=Whitespace())
    r.index(DOCS)
    run = r.search({"q": "b b a"}, k=2)
    assert list(run["q"]) == ["d1", "d2"]
    for doc, want in HAND[flavour].items():
        assert run["q"][doc] == pytest.approx(want, rel=1e-6)


def test_bright_fills_with_unmatched_documents_lucene_does_not():
    bright = BM25Retriever(flavour="bright", analyzer=Whitespace())
    lucene = BM25Retriever(flavour="lucene", analyzer=Whitespace())
    for r in (bright, lucene):
        r.index(DOCS)
    assert bright.search({"q": "a"}, k=3)["q"] == pytest.approx({"d1": bright.search({"q": "a"}, k=1)["q"]["d1"], "d2": 0.0, "d3": 0.0})
    assert list(lucene.search({"q": "a"}, k=3)["q"]) == ["d1"]


@pytest.mark.parametrize("flavour", ["bright", "lucene"])
def test_excluded_documents_are_removed_before_the_cut(flavour):
    r = BM25Retriever(flavour=flavour, analyzer=Whitespace())
    r.index(DOCS)
    run = r.search({"q": "b b a c"}, k=2, exclude={"q": {"d1"}})
    assert "d1" not in run["q"] and len(run["q"]) == 2


def test_unknown_query_terms_are_ignored():
    r = BM25Retriever(flavour="bright", analyzer=Whitespace())
    r.index(DOCS)
    # gensim's doc2bow drops unknown terms, so they do not lengthen the query either.
    assert r.search({"q": "b b a zzz zzz"}, k=1)["q"]["d1"] == pytest.approx(HAND["bright"]["d1"], rel=1e-6)


def test_lucene_length_quantisation():
    lengths = np.array([0, 5, 23, 24, 200, 215, 216, 1000])
    assert lucene_quantized_length(lengths).tolist() == [0, 5, 23, 24, 200, 200, 216, 984]


def test_index_is_cached_by_corpus_and_analyzer(tmp_path):
    cache = ArtifactCache(tmp_path)
    first = BM25Retriever(flavour="bright", analyzer=Whitespace(), cache=cache)
    first.index(DOCS)
    second = BM25Retriever(flavour="lucene", analyzer=Whitespace(), cache=cache)
    second.index(DOCS)  # same corpus + analyzer: the term counts are reused across flavours
    assert cache.stats()["bm25"] == {"hits": 1, "builds": 1}
    assert second.search({"q": "b b a"}, k=1)["q"]["d1"] == pytest.approx(HAND["lucene"]["d1"], rel=1e-6)
    changed = Corpus(["d1", "d2", "d3"], ["a b b", "b c", "c c d"])
    BM25Retriever(flavour="bright", analyzer=Whitespace(), cache=cache).index(changed)
    assert cache.stats()["bm25"]["builds"] == 2


def test_is_cached_tells_the_matrix_planner(tmp_path):
    cache = ArtifactCache(tmp_path)
    r = BM25Retriever(flavour="bright", analyzer=Whitespace(), cache=cache)
    assert not r.is_cached(DOCS.fingerprint)
    r.index(DOCS)
    assert BM25Retriever(flavour="lucene", analyzer=Whitespace(), cache=cache).is_cached(DOCS.fingerprint)


def test_ties_follow_each_reference_order_and_exclusions_stay_out_of_the_fill():
    # Three identical documents tie on every query: BRIGHT's stable sort keeps corpus order,
    # Lucene breaks ties by ascending doc id. "q" is unmatched by "other" and "zz".
    docs = Corpus(["z", "a", "m", "other", "zz"], ["x y", "x y", "x y", "q q", "r"])
    bright = BM25Retriever("bright", analyzer=Whitespace())
    lucene = BM25Retriever("lucene", analyzer=Whitespace())
    bright.index(docs)
    lucene.index(docs)
    assert list(bright.search({"q": "x"}, k=3)["q"]) == ["z", "a", "m"]
    assert list(lucene.search({"q": "x"}, k=3)["q"]) == ["a", "m", "z"]
    # Excluded documents leave the ranking and are not brought back by the zero-score fill.
    run = bright.search({"q": "x"}, k=5, exclude={"q": {"a", "other"}})["q"]
    assert list(run) == ["z", "m", "zz"] and run["zz"] == 0.0


def _random_corpus(seed: int, n: int = 400) -> Corpus:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(60)]
    texts = [" ".join(rng.choice(words, size=rng.integers(0, 40), p=np.linspace(2, 0.1, 60) / np.linspace(2, 0.1, 60).sum()))
             for _ in range(n)]
    return Corpus([f"d{i:04d}" for i in rng.permutation(n)], texts)


@pytest.mark.parametrize("flavour", ["bright", "lucene"])
def test_compiled_scoring_equals_numpy_bit_for_bit(flavour, monkeypatch):
    from bright_eval.retrievers import bm25

    if bm25._bm25c is None:
        pytest.skip("compiled extension not built")
    docs = _random_corpus(1)
    r = BM25Retriever(flavour, analyzer=Whitespace())
    r.index(docs)
    queries = {f"q{i}": " ".join(f"w{j}" for j in np.random.default_rng(i).integers(0, 70, 30)) for i in range(20)}
    compiled = r.search(queries, k=50)
    monkeypatch.setattr(bm25, "_bm25c", None)
    assert r.search(queries, k=50) == compiled  # same documents, order and float32 scores


def _tied_corpus(seed: int, n: int = 3000) -> Corpus:
    """Random texts, a third of them repeated (exact score ties) and some empty (score 0), under
    ids in shuffled order (so that Lucene's id order differs from corpus order)."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(80)]
    p = np.linspace(2, 0.1, 80) / np.linspace(2, 0.1, 80).sum()
    texts = [" ".join(rng.choice(words, size=rng.integers(0, 30), p=p)) for _ in range(n)]
    for i in rng.choice(n, n // 3, replace=False):
        texts[i] = texts[int(rng.integers(0, n))]
    return Corpus([f"d{i:05d}" for i in rng.permutation(n)], texts)


@pytest.mark.parametrize("flavour", ["bright", "lucene"])
def test_compiled_search_equals_numpy_with_ties_exclusions_and_threads(flavour, monkeypatch):
    """The one-call compiled search (scores, exclusions, top k, fill) against the numpy steps,
    bit for bit, whatever the number of threads the documents are split across."""
    from bright_eval.retrievers import bm25

    if bm25._bm25c is None:
        pytest.skip("compiled extension not built")
    docs = _tied_corpus(5)
    r = BM25Retriever(flavour, analyzer=Whitespace())
    r.index(docs)
    rng = np.random.default_rng(6)
    queries = {f"q{i}": " ".join(f"w{j}" for j in rng.integers(0, 90, int(rng.integers(0, 40)))) for i in range(25)}
    queries["unknown"], queries["empty"] = "zz yy", ""
    exclude = {q: set(rng.choice(docs.ids, int(rng.integers(0, 300)))) | {"not-a-doc"} for q in list(queries)[::2]}
    got = {}
    for k in (1, 10, 400, 5000):
        for threads in (1, -2, -3, 4):
            r.threads = threads
            got[k, threads] = r.search(queries, k=k, exclude=exclude)
    monkeypatch.setattr(bm25, "_bm25c", None)
    for (k, threads), run in got.items():
        want = r.search(queries, k=k, exclude=exclude)
        # same documents, order and float32 scores
        assert [list(h.items()) for h in run.values()] == [list(h.items()) for h in want.values()], (k, threads)


def test_compiled_top_k_equals_a_full_sort():
    """The compiled cut on given scores (one posting list carries them), with ties, zeros and
    exclusions, in corpus order or by a tie rank: the sampled threshold and its fallback."""
    from bright_eval.retrievers import bm25

    if bm25._bm25c is None:
        pytest.skip("compiled extension not built")
    rng = np.random.default_rng(1)
    for trial in range(60):
        n, k = int(rng.integers(1, 20_000)), int(rng.integers(1, 1500))
        scores = rng.choice(rng.random(int(rng.integers(1, 5000))).astype(np.float32), n)  # many ties
        scores[rng.random(n) < rng.random()] = 0  # unmatched documents
        ex = rng.choice(n, int(rng.integers(0, 50)))
        docs = np.flatnonzero(scores).astype(np.int32)
        tie = rng.permutation(n).astype(np.int64) if trial % 2 else None
        ids = [f"d{i}" for i in range(n)]
        got = bm25._bm25c.search(np.array([0, len(docs)], np.int32), docs, scores[docs], np.zeros(1, np.int64),
                                 np.ones(1, np.float32), False, k, tie, None if tie is None else np.argsort(tie),
                                 ex.astype(np.int64), trial % 3 == 0, ids, 1)
        s = scores.copy()
        s[ex] = -np.inf
        key = np.arange(n) if tie is None else tie
        order = [i for i in np.lexsort((key, -s)) if s[i] > 0][:k]
        want = {ids[i]: float(s[i]) for i in order}
        if trial % 3 == 0:
            for i in np.flatnonzero(s == 0)[: k - len(want)]:
                want[ids[i]] = 0.0
        assert list(got.items()) == list(want.items())


def test_compiled_search_refuses_a_corrupt_index():
    from bright_eval.retrievers import bm25

    if bm25._bm25c is None:
        pytest.skip("compiled extension not built")
    n = 40_000
    ids = [str(i) for i in range(n)]
    docs = np.arange(0, n, 2, dtype=np.int32)

    def search(indices, threads):
        return bm25._bm25c.search(np.array([0, len(indices)], np.int32), indices, np.ones(len(indices), np.float32),
                                  np.zeros(1, np.int64), np.ones(1, np.float32), False, 10, None, None, None, True,
                                  ids, threads)

    assert list(search(docs, -2)) == [str(i) for i in range(0, 20, 2)]
    with pytest.raises(IndexError):
        search(np.append(docs, n).astype(np.int32), 1)  # a document past the last
    with pytest.raises(IndexError):
        search(docs[::-1].copy(), -2)  # postings out of document order cannot be split
    with pytest.raises(IndexError):
        bm25._bm25c.search(np.array([0, len(docs)], np.int32), docs, np.ones(len(docs), np.float32),
                           np.array([1], np.int64), np.ones(1, np.float32), False, 10, None, None, None, True, ids, 1)


def test_sampled_top_k_equals_a_full_sort():
    from bright_eval.retrievers.bm25 import _top_k_dense

    rng = np.random.default_rng(0)
    for trial in range(60):
        n, k = int(rng.integers(1, 20_000)), int(rng.integers(1, 1500))
        scores = rng.choice(rng.random(int(rng.integers(1, 5000))).astype(np.float32), n)  # many ties
        scores[rng.random(n) < rng.random()] = 0  # unmatched documents
        tie = rng.permutation(n) if trial % 2 else None
        key = np.arange(n) if tie is None else tie
        want = [i for i in np.lexsort((key, -scores)) if scores[i] > 0][:k]
        assert _top_k_dense(scores, k, tie).tolist() == want


def test_counting_in_workers_equals_counting_token_lists():
    """Blocks from two worker processes, merged and renumbered, equal one pass over token lists
    (the analyzer's own tokens), terms sorted."""
    from bright_eval.retrievers.analysis import EnglishAnalyzer
    from bright_eval.retrievers.bm25 import TermCounts

    rng = np.random.default_rng(3)
    vocab = ["running", "runs", "the", "caf\u00e9", "x86_64", "e.g.", "node.js", "dog's", "\u05e9\u05dc\u05d5\u05dd", "42"]
    texts = [" ".join(rng.choice(vocab, size=rng.integers(0, 25))) for _ in range(3000)]
    an = EnglishAnalyzer()
    ref = TermCounts.build([an(t) for t in texts], len(texts))
    for compiled in (False, None):
        got = TermCounts.from_texts(texts, EnglishAnalyzer(compiled=compiled), processes=2, min_parallel=1)
        assert got.vocab == sorted(ref.vocab) == ref.vocab
        for a, b in ((got.indptr, ref.indptr), (got.indices, ref.indices), (got.tf, ref.tf), (got.lengths, ref.lengths)):
            assert a.tolist() == b.tolist()


@pytest.mark.parametrize("compiled", [False, None])
def test_query_terms_through_the_span_cache_equal_the_analyzers_tokens(compiled):
    """A query's known terms (first-seen order) and counts, from the span cache keyed to the
    index's vocabulary, equal counting the analyzer's tokens; unknown terms are dropped."""
    from bright_eval.retrievers.analysis import EnglishAnalyzer

    docs = Corpus(["a", "b", "c"], ["The runners ran quickly, running.", "Caf\u00e9s and dogs' bones", "e.g. node.js 3.14"])
    r = BM25Retriever("bright", analyzer=EnglishAnalyzer(compiled=compiled))
    r.index(docs)
    for q in ["running dogs, bones & caf\u00e9 running zebra", "E.G. node.js node.js 3.14 unknown", "", "the and"]:
        want: dict[int, int] = {}
        for tok in r.analyzer(q):
            if tok in r.counts.term_index:
                want[r.counts.term_index[tok]] = want.get(r.counts.term_index[tok], 0) + 1
        terms, qtf = r._query_terms(q)
        assert terms.tolist() == list(want) and qtf.tolist() == list(want.values())
