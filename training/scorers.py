"""Relevance scorers for the reward: `matrix(queries, docs)` -> scores[len(queries), len(docs)].

A GRPO step scores every completion of its batch against the references of its question in ONE
call: the reward collects the distinct query texts (originals and rewrites) and the distinct
reference documents, and asks for the whole matrix. Vectors of texts seen before (references come
back every epoch, originals come back for each of their G completions) are kept in memory.

* `BM25Scorer` is BRIGHT's BM25 (`retrievers/bm25.py`, flavour "bright": Lucene English analyzer,
  k1=0.9, b=0.4, BM25 weights on the document AND the query side, dot product). A reward compares a
  query with a handful of documents, but idf and avgdl need a collection: they come from a fixed
  background corpus, by default every reference document of the training set, so a document's
  weights never depend on which batch it lands in. Terms the background never saw are ignored and
  lengths count in-vocabulary tokens only, as in BRIGHT (gensim's dictionary is the corpus's).
  `normalize=True` divides by both vector norms (a cosine in BM25-weight space, in [0, 1]), which
  keeps the released reward's scale (10 x a difference of cosines) meaningful; ranking a corpus for
  a fixed query is unchanged by the query norm, so only the reward's scale and its length
  incentive differ.
* `EmbeddingScorer` is a sentence-transformers model with normalised embeddings (cosine), as in the
  released reward (BAAI/bge-base-en-v1.5).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp

from bright_eval.errors import BrightEvalError, require

CACHE_LIMIT = 200_000  # texts kept per scorer; a long run's rewrites are never seen twice, so it is cleared when full


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class BM25Scorer:
    kind = "bm25"

    def __init__(self, background: Sequence[str], k1: float = 0.9, b: float = 0.4,
                 analyzer: Callable[[str], list[str]] | None = None, normalize: bool = False):
        from bright_eval.retrievers.bm25 import TermCounts

        if not len(background):
            raise BrightEvalError("BM25 reward scorer: the background corpus is empty (no reference documents)")
        if analyzer is None:
            from bright_eval.retrievers.analysis import EnglishAnalyzer

            analyzer = EnglishAnalyzer()
        self.analyzer = analyzer
        self.k1, self.b, self.normalize = float(k1), float(b), bool(normalize)
        many = getattr(analyzer, "analyze_many", None)
        tokens = many(list(background)) if many else (analyzer(t) for t in background)
        counts = TermCounts.build(tokens, len(background))
        self.term_index = counts.term_index
        n = counts.n_docs
        df = np.diff(counts.indptr)
        self.n_docs = n
        self.avgdl = float(counts.lengths.sum()) / n
        if self.avgdl == 0:
            raise BrightEvalError("BM25 reward scorer: the background corpus has no tokens")
        self.idf = np.log1p((n - df + 0.5) / (df + 0.5))
        self._rows: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

    def spec(self) -> dict:
        return {"kind": self.kind, "k1": self.k1, "b": self.b, "normalize": self.normalize, "background_docs": self.n_docs,
                "analyzer": getattr(self.analyzer, "fingerprint", type(self.analyzer).__name__)}

    def weights(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(term ids, BM25 weights) of one text under the background statistics."""
        key = _key(text)
        hit = self._rows.get(key)
        if hit is not None:
            return hit
        tf: dict[int, int] = {}
        for tok in self.analyzer(text):
            j = self.term_index.get(tok)
            if j is not None:
                tf[j] = tf.get(j, 0) + 1
        terms = np.fromiter(tf.keys(), np.int64, len(tf))
        counts = np.fromiter(tf.values(), np.float64, len(tf))
        length = counts.sum()
        w = self.idf[terms] * counts / (counts + self.k1 * (1 - self.b + self.b * length / self.avgdl))
        if self.normalize and len(w):
            w = w / np.linalg.norm(w)
        if len(self._rows) >= CACHE_LIMIT:
            self._rows.clear()
        self._rows[key] = (terms, w)
        return terms, w

    def _sparse(self, texts: Sequence[str]) -> sp.csr_matrix:
        rows, cols, vals = [], [], []
        for r, t in enumerate(texts):
            terms, w = self.weights(t)
            rows.append(np.full(len(terms), r))
            cols.append(terms)
            vals.append(w)
        shape = (len(texts), len(self.idf))
        if not rows:
            return sp.csr_matrix(shape)
        return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=shape)

    def matrix(self, queries: Sequence[str], docs: Sequence[str]) -> np.ndarray:
        return np.asarray((self._sparse(queries) @ self._sparse(docs).T).todense(), dtype=np.float64)


class EmbeddingScorer:
    kind = "embedding"

    def __init__(self, model: str = "BAAI/bge-base-en-v1.5", batch_size: int = 32, device: str | None = None,
                 max_seq_length: int | None = None):
        st = require("sentence_transformers", "models", "the embedding reward scorer")
        try:
            self.model = st.SentenceTransformer(model, device=device)
        except Exception as exc:  # unreachable hub, wrong path: say which model
            raise BrightEvalError(f"reward scorer: could not load sentence-transformers model '{model}' "
                                  f"({type(exc).__name__}: {str(exc)[:200]}); give a local folder with scorer.model") from None
        if max_seq_length:
            self.model.max_seq_length = int(max_seq_length)
        self.model_name = model
        self.batch_size = batch_size
        self._emb: dict[bytes, np.ndarray] = {}

    def spec(self) -> dict:
        return {"kind": self.kind, "model": self.model_name, "max_seq_length": self.model.max_seq_length}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [_key(t) for t in texts]
        todo: dict[bytes, str] = {}
        for k, t in zip(keys, texts):
            if k not in self._emb and k not in todo:
                todo[k] = t
        if todo:
            vecs = self.model.encode(list(todo.values()), batch_size=self.batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
            if len(self._emb) + len(todo) > CACHE_LIMIT:
                self._emb.clear()
            for k, v in zip(todo, vecs):
                self._emb[k] = np.asarray(v, dtype=np.float32)
        return np.stack([self._emb[k] for k in keys]) if keys else np.zeros((0, 0), np.float32)

    def matrix(self, queries: Sequence[str], docs: Sequence[str]) -> np.ndarray:
        if not len(queries) or not len(docs):
            return np.zeros((len(queries), len(docs)))
        return (self.embed(queries) @ self.embed(docs).T).astype(np.float64)


def make_scorer(spec: dict, background: Sequence[str] | None = None, analyzer=None):
    """`spec` from a training config's `scorer:` block: {kind: bm25, k1, b, normalize} or {kind: embedding, model, ...}."""
    spec = dict(spec or {})
    kind = spec.pop("kind", "embedding")
    try:
        if kind == "bm25":
            if background is None:
                raise BrightEvalError("BM25 reward scorer needs a background corpus (the training set's reference documents)")
            return BM25Scorer(background, analyzer=analyzer, **spec)
        if kind == "embedding":
            return EmbeddingScorer(**spec)
    except TypeError as exc:
        raise BrightEvalError(f"scorer '{kind}': {exc}") from None
    raise BrightEvalError(f"scorer.kind must be 'bm25' or 'embedding', got '{kind}'")
