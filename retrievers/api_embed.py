"""BRIGHT's four API embedders (its Table 2 rows OpenAI, Cohere, Voyage, Google) over plain HTTP.

No SDK: each provider is one request shape and one response shape (urllib, stdlib), so the core needs
nothing new and a local server can stand in for the API in tests. What BRIGHT does per model
(xlang-ai/BRIGHT `retrievers.py` at d99e839) and what is kept here:

* OpenAI text-embedding-3-large: texts cut to 6000 cl100k_base tokens (L29-33, L315-323), then
  `json.dumps(text.replace("\\n", " "))` (L56), batches of 1024 (L325), cosine (L345); a batch is split
  further to stay within the API's 300,000 tokens per request (counted with tiktoken), which BRIGHT's
  batches of long documents exceed.
* Cohere embed-english-v3.0: input_type search_document / search_query (L373, L392), dot product
  (L399; v3 vectors are unit length, so it ranks as cosine). BRIGHT's batch of 8192 (L353) goes through
  the SDK, which sends 96 texts a request, the API's limit; so do we.
* Voyage voyage-large-2-instruct: input_type document / query (L445, L475), texts cut at 16000 tokens
  of the `voyageai/voyage` tokenizer (L405-413), here by the API's own truncation at the model's 16k
  context; cosine (L489). BRIGHT sends one text a request (L418); batch size changes speed, not vectors.
  Batches also stay within the API's 120K tokens per request, estimated from UTF-8 bytes.
* Google text-embedding-preview-0409 (Vertex AI): task_type RETRIEVAL_DOCUMENT / RETRIEVAL_QUERY
  (L512, L521), output_dimensionality 768 (L35, L48), empty texts sent as 'empty' (L41-44), batches
  of 8 (L498), cosine (L522).

None of them takes BRIGHT's per-task instruction (its configs/<model>/*.json are empty), so these
retrievers are not task-bound. Document embeddings go to the same content-addressed cache as the
local dense models, in shards, so an interrupted run resumes; query embeddings are cached per set
of queries. Requests that get 429 or 5xx are retried with exponential back-off (Retry-After is
honoured); tokens (characters for Google, which bills by character) and cost are tallied in `stats`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import numpy as np

from bright_eval.cache import ArtifactCache
from bright_eval.errors import BrightEvalError
from bright_eval.io import atomic_write_bytes, atomic_write_json
from bright_eval.progress import progress

from .dense import _npy_bytes, excluded_positions

log = logging.getLogger(__name__)
KIND = "embeddings"  # the same cache kind as local dense models


@dataclass(frozen=True)
class ApiModel:
    name: str
    provider: str            # openai | cohere | voyage | google
    model: str
    key_env: tuple[str, ...]  # environment variables tried for the key, in order
    batch_size: int
    similarity: str          # cosine | dot (as BRIGHT scores it)
    usd_per_million: float   # list price per million billed units, for the tally only
    unit: str = "tokens"     # billed unit: tokens, or characters (Google)
    reported_as: str = ""


API_MODELS = (
    ApiModel("text-embedding-3-large", "openai", "text-embedding-3-large", ("OPENAI_API_KEY",), 1024, "cosine", 0.13,
             reported_as="OpenAI"),
    ApiModel("embed-english-v3.0", "cohere", "embed-english-v3.0", ("CO_API_KEY", "COHERE_API_KEY"), 96, "dot", 0.10,
             reported_as="Cohere"),
    ApiModel("voyage-large-2-instruct", "voyage", "voyage-large-2-instruct", ("VOYAGE_API_KEY",), 8, "cosine", 0.12,
             reported_as="Voyage"),
    ApiModel("text-embedding-preview-0409", "google", "text-embedding-preview-0409", ("GOOGLE_ACCESS_TOKEN",), 8,
             "cosine", 0.025, unit="characters", reported_as="Google"),
)
API_BY_NAME = {m.name: m for m in API_MODELS}
OPENAI_MAX_TOKENS = 6000  # BRIGHT's cut_text_openai threshold (retrievers.py L29)
# Tokens summed over one request's texts. OpenAI: 300,000 for every embedding model (API reference,
# embeddings `input`); BRIGHT's 1024 texts of up to 6000 tokens each could send 6.1M. Voyage: 120K for
# the large-2 family (API reference, `input`: 320K for voyage-2, 120K for voyage-large-2 and kin).
REQUEST_TOKEN_CAP = {"openai": 300_000, "voyage": 120_000}
GOOGLE_DIM = 768          # BRIGHT's get_embedding_google dimensionality (retrievers.py L35)


def _openai_tokenizer():
    try:
        import tiktoken

        return tiktoken.get_encoding("cl100k_base")
    except Exception as exc:  # not installed, or its vocabulary cannot be downloaded
        raise BrightEvalError(f"text-embedding-3-large needs tiktoken's cl100k_base to cut texts at {OPENAI_MAX_TOKENS} tokens "
                              f"as BRIGHT does ({type(exc).__name__}: {str(exc)[:120]}); pip install 'bright-eval[api]'") from None


def preprocess(model: ApiModel, texts: list[str], tokenizer=None) -> list[str]:
    """What BRIGHT sends for these texts (see the module docstring)."""
    if model.provider == "openai":
        tok = tokenizer or _openai_tokenizer()
        out = []
        for t in texts:
            ids = tok.encode(t)
            if len(ids) > OPENAI_MAX_TOKENS:
                t = tok.decode(ids[:OPENAI_MAX_TOKENS])
            out.append(json.dumps(t.replace("\n", " ")))
        return out
    if model.provider == "google":
        return [t if t.strip() else "empty" for t in texts]
    return list(texts)


def token_counts(model: ApiModel, sent: list[str], tokenizer=None) -> list[int] | None:
    """Tokens each text sent costs toward the request cap: counted with tiktoken for OpenAI; for Voyage
    (Llama 2's tokenizer, not installed here) the UTF-8 byte count plus one, an upper bound since its
    byte-fallback tokens cover at least a byte; None where there is no cap."""
    if model.provider == "openai":
        count = getattr(tokenizer, "encode_ordinary", None) or tokenizer.encode
        return [len(count(t)) for t in sent]
    if model.provider == "voyage":
        return [len(t.encode("utf-8")) + 1 for t in sent]
    return None


def pack(sizes: list[int] | None, n: int, max_texts: int, max_tokens: int | None) -> list[tuple[int, int]]:
    """(start, end) of consecutive batches of at most `max_texts` texts and `max_tokens` tokens; a text
    over the cap on its own goes alone (the API truncates or refuses it, with a message naming it)."""
    cap = max_tokens if sizes is not None else None
    out, start, total = [], 0, 0
    for i in range(n):
        size = sizes[i] if cap is not None else 0
        full = i - start >= max_texts or (cap is not None and total + size > cap)
        if i > start and full:
            out.append((start, i))
            start, total = i, 0
        total += size
    if n > start:
        out.append((start, n))
    return out


def request_for(model: ApiModel, texts: list[str], role: str, base_url: str | None, key: str) -> tuple[str, dict, dict]:
    """(url, headers, JSON body) of one embedding request; role is 'document' or 'query'."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    if model.provider == "openai":
        return (base_url or "https://api.openai.com") + "/v1/embeddings", headers, {
            "input": texts, "model": model.model, "encoding_format": "float"}
    if model.provider == "cohere":
        return (base_url or "https://api.cohere.com") + "/v1/embed", headers, {
            "texts": texts, "model": model.model, "input_type": f"search_{role}", "truncate": "END"}
    if model.provider == "voyage":
        return (base_url or "https://api.voyageai.com") + "/v1/embeddings", headers, {
            "input": texts, "model": model.model, "input_type": role, "truncation": True}
    project = os.environ.get("GOOGLE_CLOUD_PROJECT")
    if not project:
        raise BrightEvalError(f"{model.name}: set GOOGLE_CLOUD_PROJECT (and GOOGLE_ACCESS_TOKEN, from `gcloud auth print-access-token`)")
    loc = os.environ.get("GOOGLE_CLOUD_LOCATION", "us-central1")
    url = (base_url or f"https://{loc}-aiplatform.googleapis.com") + \
        f"/v1/projects/{project}/locations/{loc}/publishers/google/models/{model.model}:predict"
    task = "RETRIEVAL_DOCUMENT" if role == "document" else "RETRIEVAL_QUERY"
    return url, headers, {"instances": [{"content": t, "task_type": task} for t in texts],
                          "parameters": {"outputDimensionality": GOOGLE_DIM}}


def parse_response(model: ApiModel, body: dict, texts: list[str]) -> tuple[list[list[float]], int]:
    """(embeddings in input order, billed units)."""
    try:
        if model.provider in ("openai", "voyage"):
            data = sorted(body["data"], key=lambda d: d["index"])
            usage = body.get("usage") or {}
            return [d["embedding"] for d in data], int(usage.get("prompt_tokens", usage.get("total_tokens", 0)))
        if model.provider == "cohere":
            emb = body["embeddings"]
            emb = emb["float"] if isinstance(emb, dict) else emb
            return emb, int(((body.get("meta") or {}).get("billed_units") or {}).get("input_tokens", 0))
        return [p["embeddings"]["values"] for p in body["predictions"]], sum(len(t) for t in texts)
    except (KeyError, TypeError, IndexError) as exc:
        raise BrightEvalError(f"{model.name}: unexpected response shape ({type(exc).__name__}: {exc}): {str(body)[:200]}") from None


class ApiEmbedRetriever:
    def __init__(self, model: ApiModel, cache: ArtifactCache | None = None, batch_size: int | None = None,
                 base_url: str | None = None, max_retries: int = 8, retry_wait: float = 2.0, timeout: float = 120.0,
                 shard_size: int = 4096, name: str | None = None):
        self.model_def = model
        self.name = name or model.name
        self.cache = cache if cache is not None else ArtifactCache()
        self.batch_size = batch_size or model.batch_size
        self.base_url = base_url.rstrip("/") if base_url else None
        self.max_retries, self.retry_wait, self.timeout, self.shard_size = max_retries, retry_wait, timeout, shard_size
        self.stats = {"requests": 0, "retries": 0, "texts": 0, model.unit: 0, "cost_usd": 0.0,
                      "usd_per_million_" + model.unit: model.usd_per_million}
        self._tokenizer = None  # tiktoken, loaded on first OpenAI request
        self._doc_emb: np.ndarray | None = None
        self._doc_ids: list[str] = []
        self._doc_pos: dict[str, int] = {}

    def spec(self) -> dict:
        m = self.model_def
        prep = {"openai": f"cut at {OPENAI_MAX_TOKENS} cl100k_base tokens, newlines to spaces, json.dumps",
                "google": "empty text sent as 'empty'", "voyage": "API truncation at the model's context",
                "cohere": "API truncation END"}[m.provider]
        out = {"name": self.name, "kind": "api-embedding", "provider": m.provider, "model": m.model,
               "preprocessing": prep, "similarity": m.similarity}
        if m.provider == "google":
            out["dimensions"] = GOOGLE_DIM
        return out

    # -- HTTP ------------------------------------------------------------------------------------
    def _key(self) -> str:
        for var in self.model_def.key_env:
            if os.environ.get(var):
                return os.environ[var]
        raise BrightEvalError(f"{self.name}: no API key; set {' or '.join(self.model_def.key_env)}")

    def _post(self, url: str, headers: dict, body: dict) -> dict:
        data = json.dumps(body).encode()
        for attempt in range(self.max_retries + 1):
            req = urllib.request.Request(url, data=data, headers=headers, method="POST")
            self.stats["requests"] += 1
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode("utf-8", "replace")[:300]
                if exc.code != 429 and exc.code < 500:
                    raise BrightEvalError(f"{self.name}: HTTP {exc.code} from {url}: {detail}") from None
                wait = _retry_after(exc.headers.get("Retry-After"))
                reason = f"HTTP {exc.code}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                wait, reason = None, f"{type(exc).__name__}: {exc}"
            if attempt == self.max_retries:
                raise BrightEvalError(f"{self.name}: gave up after {self.max_retries + 1} tries ({reason}) at {url}")
            self.stats["retries"] += 1
            time.sleep(wait if wait is not None else min(60.0, self.retry_wait * 2 ** attempt))
        raise AssertionError("unreachable")

    def embed(self, texts: list[str], role: str) -> np.ndarray:
        """Embeddings of `texts` (float32, one row each), batch by batch, as BRIGHT preprocesses them."""
        if self.model_def.provider == "openai" and self._tokenizer is None:
            self._tokenizer = _openai_tokenizer()
        key = self._key()
        rows: list[list[float]] = []
        sent = preprocess(self.model_def, texts, self._tokenizer)
        sizes = token_counts(self.model_def, sent, self._tokenizer)
        for s, e in pack(sizes, len(sent), self.batch_size, REQUEST_TOKEN_CAP.get(self.model_def.provider)):
            batch = sent[s:e]
            url, headers, body = request_for(self.model_def, batch, role, self.base_url, key)
            emb, billed = parse_response(self.model_def, self._post(url, headers, body), batch)
            if len(emb) != len(batch):
                raise BrightEvalError(f"{self.name}: {len(emb)} embeddings for {len(batch)} texts")
            rows.extend(emb)
            self.stats["texts"] += len(batch)
            self.stats[self.model_def.unit] += billed
            self.stats["cost_usd"] = round(self.stats[self.model_def.unit] * self.model_def.usd_per_million / 1e6, 8)
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)

    # -- index -----------------------------------------------------------------------------------
    def embedding_key(self, corpus_fingerprint: str) -> str:
        return self.cache.key(kind="api-doc-embeddings", spec={k: v for k, v in self.spec().items() if k != "name"},
                              corpus=corpus_fingerprint, role="document")

    def is_cached(self, corpus_fingerprint: str) -> bool:
        return self.cache.has(KIND, self.embedding_key(corpus_fingerprint))

    def index(self, corpus) -> None:
        key = self.embedding_key(corpus.fingerprint)
        if self.cache.has(KIND, key):
            self.cache.hit(KIND)
        else:
            self._build(corpus, key)
        self._doc_emb = np.load(self.cache.dir_for(KIND, key) / "docs.npy", mmap_mode="r")
        if self._doc_emb.shape[0] != len(corpus):
            raise BrightEvalError(f"{self.cache.dir_for(KIND, key)}: cached embeddings hold {self._doc_emb.shape[0]} rows "
                                  f"for a corpus of {len(corpus)} documents; delete that folder to re-embed")
        self._doc_ids, self._doc_pos = corpus.ids, {d: i for i, d in enumerate(corpus.ids)}

    def _build(self, corpus, key: str) -> None:
        partial = self.cache.root / f"{KIND}-partial" / key
        partial.mkdir(parents=True, exist_ok=True)
        starts = list(range(0, len(corpus), self.shard_size))
        todo = [s for s in starts if not (partial / f"{s:010d}.npy").exists()]
        for s in progress(todo, total=len(todo), description=f"embedding {len(corpus)} docs with {self.name}"):
            atomic_write_bytes(partial / f"{s:010d}.npy", _npy_bytes(self.embed(corpus.texts[s:s + self.shard_size], "document")))
        parts = [np.load(partial / f"{s:010d}.npy") for s in starts]
        with self.cache.build(KIND, key) as folder:
            np.save(folder / "docs.npy", np.concatenate(parts) if parts else np.zeros((0, 0), np.float32))
            atomic_write_json(folder / "meta.json", {"corpus": corpus.fingerprint, "n_docs": len(corpus), "spec": self.spec()})
        shutil.rmtree(partial, ignore_errors=True)

    # -- search ----------------------------------------------------------------------------------
    def encode_queries(self, texts: list[str]) -> np.ndarray:
        key = self.cache.key(kind="api-query-embeddings", spec={k: v for k, v in self.spec().items() if k != "name"},
                             texts=texts)
        path = self.cache.dir_for(KIND, key) / "queries.npy"
        if self.cache.has(KIND, key):
            self.cache.hit(KIND)
            return np.load(path)
        emb = self.embed(texts, "query")
        with self.cache.build(KIND, key) as folder:
            np.save(folder / "queries.npy", emb)
        return emb

    def search(self, queries: dict[str, str], k: int = 1000, exclude: dict[str, set[str]] | None = None):
        if self._doc_emb is None:
            raise RuntimeError("index(corpus) must be called before search")
        qids = list(queries)
        if not qids:
            return {}
        q = self.encode_queries([queries[i] for i in qids])
        ex = excluded_positions(qids, exclude, self._doc_pos)
        scores, idx = top_k(q, self._doc_emb, k, ex, cosine=self.model_def.similarity == "cosine")
        return {qid: {self._doc_ids[i]: float(s) for i, s in zip(idx[r], scores[r]) if np.isfinite(s)}
                for r, qid in enumerate(qids)}


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: fall back to our own back-off
        return None


def top_k(queries: np.ndarray, docs: np.ndarray, k: int, exclude: list[np.ndarray], cosine: bool = True,
          block: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k in numpy (no torch needed for API models), docs streamed in blocks; excluded docs
    score -inf; rows sorted by score, ties by corpus position (as dense.exact_top_k)."""
    def unit(x):
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    q = unit(queries.astype(np.float64)) if cosine else queries.astype(np.float64)
    n = docs.shape[0]
    k = min(k, n)
    best_s = np.empty((len(q), 0))
    best_i = np.empty((len(q), 0), dtype=np.int64)
    for start in range(0, n, block):
        d = np.asarray(docs[start:start + block], dtype=np.float64)
        s = q @ (unit(d) if cosine else d).T
        for row, ex in enumerate(exclude):
            sel = ex[(ex >= start) & (ex < start + len(d))]
            s[row, sel - start] = -np.inf
        cand_s = np.concatenate([best_s, s], 1)
        cand_i = np.concatenate([best_i, np.broadcast_to(np.arange(start, start + len(d)), s.shape)], 1)
        order = np.lexsort((cand_i, -cand_s), axis=1)[:, :k]
        best_s = np.take_along_axis(cand_s, order, 1)
        best_i = np.take_along_axis(cand_i, order, 1)
    return best_s.astype(np.float32), best_i
