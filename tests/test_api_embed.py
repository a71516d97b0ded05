"""API embedders against a local HTTP server on 127.0.0.1 that answers in each provider's response shape
(OpenAI, Cohere, Voyage, Google Vertex), including 429s and 5xx: request bodies as BRIGHT sends them,
retries, cost tally, the embedding cache (reuse and resume), missing keys, and exact top-k."""

from __future__ import annotations

import json
import re
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from bright_eval.cache import ArtifactCache
from bright_eval.components import IndexCache, TaskBound
from bright_eval.data import Corpus, LocalSource
from bright_eval.errors import BrightEvalError
from bright_eval.retrievers import RETRIEVERS, api_embed
from bright_eval.retrievers.api_embed import KIND, top_k
from bright_eval.scoring import evaluate_run, mean_metrics

DIM = 256


def _vector(text: str) -> list[float]:
    """Hashed bag of words: texts that share words get similar vectors, so retrieval is meaningful."""
    v = np.zeros(DIM)
    for w in re.findall(r"\w{4,}", text.lower()):
        v[zlib.crc32(w.encode()) % DIM] += 1.0
    return (v / max(np.linalg.norm(v), 1e-9)).tolist()


class FakeApi:
    """Answers like the real APIs; `fail` is a list of status codes to return first, `break_after`
    turns every request after that many into a 400."""

    def __init__(self):
        self.requests: list[dict] = []
        self.fail: list[int] = []
        self.break_after: int | None = None
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                api.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                if api.fail:
                    code = api.fail.pop(0)
                    self.send_response(code)
                    if code == 429:
                        self.send_header("Retry-After", "0")
                    self.end_headers()
                    self.wfile.write(b'{"message": "slow down"}')
                    return
                if api.break_after is not None and len(api.requests) > api.break_after:
                    self.send_response(400)
                    self.end_headers()
                    self.wfile.write(b'{"message": "invalid request"}')
                    return
                out = api.answer(self.path, body)
                data = json.dumps(out).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def answer(path: str, body: dict) -> dict:
        if path == "/v1/embed":  # Cohere v1
            texts = body["texts"]
            return {"id": "x", "texts": texts, "embeddings": [_vector(t) for t in texts],
                    "meta": {"billed_units": {"input_tokens": sum(len(t.split()) for t in texts)}}}
        if path.endswith(":predict"):  # Vertex AI text embeddings
            return {"predictions": [{"embeddings": {"values": _vector(i["content"]) + [0.0] * (768 - DIM),
                                                    "statistics": {"token_count": 3, "truncated": False}}}
                                    for i in body["instances"]]}
        texts = body["input"]  # OpenAI and Voyage share a shape; indices out of order, as the API allows
        data = [{"object": "embedding", "index": i, "embedding": _vector(t)} for i, t in enumerate(texts)][::-1]
        tokens = sum(len(t.split()) for t in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens} if body["model"].startswith("text-") else {"total_tokens": tokens}
        return {"object": "list", "data": data, "model": body["model"], "usage": usage}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class CharTokenizer:
    """Stands in for tiktoken's cl100k_base (whose vocabulary needs a download): one token a character."""

    def encode(self, text):
        return list(text)

    def decode(self, ids):
        return "".join(ids)


@pytest.fixture
def api(monkeypatch):
    server = FakeApi()
    for var in ("OPENAI_API_KEY", "CO_API_KEY", "VOYAGE_API_KEY", "GOOGLE_ACCESS_TOKEN"):
        monkeypatch.setenv(var, "sk-test")
    monkeypatch.delenv("COHERE_API_KEY", raising=False)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "proj")
    monkeypatch.setattr(api_embed, "_openai_tokenizer", CharTokenizer)
    yield server
    server.close()


@pytest.fixture(scope="module")
def small(shared_bright):
    exs = [e for e in LocalSource(shared_bright).examples("biology") if e.gold_answer.strip()][:24]
    corpus = Corpus([f"a{e.id}" for e in exs], [e.gold_answer for e in exs], "test")
    gold = [type(e)(id=e.id, query=e.query, gold_ids=[f"a{e.id}"]) for e in exs]
    return exs, corpus, gold


MODELS = ["text-embedding-3-large", "embed-english-v3.0", "voyage-large-2-instruct", "text-embedding-preview-0409"]


@pytest.mark.parametrize("name", MODELS)
def test_each_api_shape_retries_cost_and_cache(name, api, small, tmp_path):
    exs, corpus, gold = small
    opts = {"base_url": api.url, "retry_wait": 0.01, "batch_size": 10, "shard_size": 16}
    r = RETRIEVERS.create(name, opts, cache=ArtifactCache(tmp_path))
    assert r.name == name and isinstance(r, IndexCache) and not isinstance(r, TaskBound)
    api.fail = [429, 503, 429]
    r.index(corpus)
    queries = {e.id: e.query for e in exs}
    run = r.search(queries, k=5, exclude={exs[0].id: {f"a{exs[0].id}"}})
    assert r.stats["retries"] == 3 and r.stats["requests"] == len(api.requests)
    n_doc_requests = 2 + 1  # shards of 16 and 8 documents in batches of 10: 10+6, 8
    assert len(api.requests) == 3 + n_doc_requests + 3  # 3 failures, then 24 queries in batches of 10
    assert r.stats["texts"] == 48
    billed = r.stats["characters"] if name.startswith("text-embedding-preview") else r.stats["tokens"]
    assert billed > 0 and r.stats["cost_usd"] == pytest.approx(billed * r.model_def.usd_per_million / 1e6)
    assert all(q["auth"] == "Bearer sk-test" for q in api.requests)
    doc_req, query_req = api.requests[3]["body"], api.requests[-1]["body"]
    if name == "text-embedding-3-large":
        assert doc_req["model"] == name and doc_req["input"][0] == json.dumps(corpus.texts[0].replace("\n", " "))
    elif name == "embed-english-v3.0":
        assert api.requests[3]["path"] == "/v1/embed"
        assert (doc_req["input_type"], query_req["input_type"]) == ("search_document", "search_query")
    elif name == "voyage-large-2-instruct":
        assert (doc_req["input_type"], query_req["input_type"]) == ("document", "query") and doc_req["truncation"] is True
    else:
        assert api.requests[3]["path"] == f"/v1/projects/proj/locations/us-central1/publishers/google/models/{name}:predict"
        assert doc_req["instances"][0]["task_type"] == "RETRIEVAL_DOCUMENT" and doc_req["parameters"] == {"outputDimensionality": 768}
        assert query_req["instances"][0]["task_type"] == "RETRIEVAL_QUERY"
    assert f"a{exs[0].id}" not in run[exs[0].id] and all(len(v) == 5 for v in run.values())
    # The ranking is exactly the one the server's vectors give for the texts as BRIGHT sends them.
    prep = lambda ts: api_embed.preprocess(r.model_def, ts, CharTokenizer())
    dv, qv = np.array([_vector(t) for t in prep(corpus.texts)]), np.array([_vector(t) for t in prep(list(queries.values()))])
    for row, qid in enumerate(queries):
        s = {corpus.ids[j]: float(qv[row] @ dv[j]) for j in range(len(corpus)) if (row, j) != (0, 0)}
        assert list(run[qid].values()) == pytest.approx(sorted(s.values(), reverse=True)[:5], abs=1e-6)  # near-ties may swap ids
        assert all(run[qid][d] == pytest.approx(s[d], abs=1e-6) for d in run[qid])
    assert mean_metrics(evaluate_run(run, gold, 5))["ndcg@10"] > 0.4

    # Same cache, no key: the index and the queries come from the cache, with no request at all.
    before = len(api.requests)
    again = RETRIEVERS.create(name, opts, cache=ArtifactCache(tmp_path))
    assert again.is_cached(corpus.fingerprint)
    again.index(corpus)
    assert again.search(queries, k=5, exclude={exs[0].id: {f"a{exs[0].id}"}}) == run
    assert len(api.requests) == before and again.stats["requests"] == 0 and again.cache.hits[KIND] == 2


def test_interrupted_embedding_resumes(api, small, tmp_path):
    _, corpus, _ = small
    opts = {"base_url": api.url, "retry_wait": 0.01, "batch_size": 8, "shard_size": 8}
    api.break_after = 2  # two shards of 8, then the API refuses
    first = RETRIEVERS.create("voyage-large-2-instruct", opts, cache=ArtifactCache(tmp_path))
    with pytest.raises(BrightEvalError, match="HTTP 400 .*invalid request"):
        first.index(corpus)
    assert not first.is_cached(corpus.fingerprint)
    api.break_after = None
    api.requests.clear()
    resumed = RETRIEVERS.create("voyage-large-2-instruct", opts, cache=ArtifactCache(tmp_path))
    resumed.index(corpus)
    assert len(api.requests) == 1  # only the third shard
    fresh = RETRIEVERS.create("voyage-large-2-instruct", opts, cache=ArtifactCache(tmp_path / "fresh"))
    fresh.index(corpus)
    np.testing.assert_array_equal(np.asarray(resumed._doc_emb), np.asarray(fresh._doc_emb))


def test_errors_are_one_clear_line(api, small, tmp_path, monkeypatch):
    _, corpus, _ = small
    monkeypatch.delenv("CO_API_KEY")
    r = RETRIEVERS.create("embed-english-v3.0", {"base_url": api.url}, cache=ArtifactCache(tmp_path))
    with pytest.raises(BrightEvalError, match="no API key; set CO_API_KEY or COHERE_API_KEY"):
        r.index(corpus)
    assert api.requests == []
    r = RETRIEVERS.create("voyage-large-2-instruct", {"base_url": api.url, "retry_wait": 0.0, "max_retries": 2},
                          cache=ArtifactCache(tmp_path))
    api.fail = [500, 502, 503]
    with pytest.raises(BrightEvalError, match=r"gave up after 3 tries \(HTTP 503\)"):
        r.index(corpus)
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT")
    with pytest.raises(BrightEvalError, match="set GOOGLE_CLOUD_PROJECT"):
        RETRIEVERS.create("text-embedding-preview-0409", {"base_url": api.url}, cache=ArtifactCache(tmp_path)).index(corpus)
    r = RETRIEVERS.create("text-embedding-3-large", {"base_url": "http://127.0.0.1:9", "retry_wait": 0.0, "max_retries": 1},
                          cache=ArtifactCache(tmp_path))
    with pytest.raises(BrightEvalError, match="gave up after 2 tries"):  # nothing listens on the discard port
        r.index(corpus)


def test_brights_preprocessing(monkeypatch):
    m = api_embed.API_BY_NAME
    long = "x" * 6005 + "\ny"
    assert api_embed.preprocess(m["text-embedding-3-large"], ["a\nb", long], CharTokenizer()) == ['"a b"', json.dumps("x" * 6000)]
    assert api_embed.preprocess(m["text-embedding-preview-0409"], ["", "  ", "t"]) == ["empty", "empty", "t"]
    assert api_embed.preprocess(m["embed-english-v3.0"], ["a\nb"]) == ["a\nb"]
    monkeypatch.setitem(__import__("sys").modules, "tiktoken", None)  # not installed
    with pytest.raises(BrightEvalError, match="needs tiktoken"):
        api_embed._openai_tokenizer()


def test_numpy_top_k_matches_dense_exact_top_k():
    from bright_eval.retrievers.dense import exact_top_k

    rng = np.random.default_rng(5)
    d = rng.normal(size=(301, 12)).astype(np.float32)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    d[40] = d[7]  # a tie: corpus order decides
    q = rng.normal(size=(6, 12)).astype(np.float32)
    q[0] = d[7]
    ex = [np.array(sorted(rng.choice(301, size=n, replace=False)), dtype=np.int64) for n in (0, 5, 0, 100, 1, 300)]
    want_s, want_i = exact_top_k(q / np.linalg.norm(q, axis=1, keepdims=True), d, 20, ex)
    for block in (13, 1000):
        got_s, got_i = top_k(q, d, 20, ex, cosine=True, block=block)
        for row in range(6):
            keep = np.isfinite(want_s[row])
            assert got_i[row][keep].tolist() == want_i[row][keep].tolist()
            np.testing.assert_allclose(got_s[row][keep], want_s[row][keep], atol=1e-5)
    assert got_i[0][:2].tolist() == [7, 40]


@pytest.mark.parametrize("name, cap, unit", [("text-embedding-3-large", 300_000, len),  # CharTokenizer: a token a character
                                             ("voyage-large-2-instruct", 120_000, lambda t: len(t.encode()) + 1)])
def test_batches_stay_within_the_apis_tokens_per_request(name, cap, unit, api, tmp_path):
    # BRIGHT's batches (1024 texts for OpenAI) of long documents exceed the per-request cap; the API refuses those.
    served = FakeApi.answer

    def capped(path, body):
        assert sum(unit(t) for t in body["input"]) <= cap, "request over the API's token cap"
        return served(path, body)

    api.answer = capped
    texts = [f"document {i} " + "word " * (2_000 + 37 * i) for i in range(160)]  # ~1.9M characters in all
    r = RETRIEVERS.create(name, cache=ArtifactCache(tmp_path), base_url=api.url, batch_size=1024)
    emb = r.embed(texts, "document")
    sent = [t for req in api.requests for t in req["body"]["input"]]
    assert len(api.requests) > 1 and len(sent) == len(texts)
    assert sent == api_embed.preprocess(api_embed.API_BY_NAME[name], texts, CharTokenizer())  # every text once, in order
    assert np.allclose(emb[5], _vector(sent[5]), atol=1e-6)


def test_pack_counts_texts_and_tokens():
    assert api_embed.pack([5, 5, 5, 5], 4, 3, 12) == [(0, 2), (2, 4)]
    assert api_embed.pack([20, 1, 1], 3, 8, 10) == [(0, 1), (1, 3)]  # a text over the cap goes alone
    assert api_embed.pack(None, 5, 2, None) == [(0, 2), (2, 4), (4, 5)]
