"""Re-scoring the head of a first-stage run by the cosine of a dense retriever's query and document
embeddings: the two-stage "sparse retrieval, dense re-scoring" pipeline, with any registered
sentence-transformers retriever as the encoder (`embed:all-minilm-l6-v2`, `embed:e5-mistral-7b`).

The encoder is bound to the task like the dense retriever (BRIGHT's per-task instructions), so
`bm25 >> embed:X` ranks the head exactly as retriever X would rank those documents. Document
embeddings come from X's corpus cache when X has already encoded this corpus. Otherwise, when the
heads cover more than half the corpus it is encoded whole into that cache (where X's own column
finds it too); when they do not (depth 100 of a 400k-document corpus), only the heads' documents
are encoded, once per task however many first stages are reranked.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import numpy as np

from bright_eval.progress import progress

from .base import DocTexts, heads, order_by_scores, write_back

if TYPE_CHECKING:
    from bright_eval.data import Corpus
    from bright_eval.retrievers.dense import DenseRetriever
    from bright_eval.trec import Run


class EmbeddingReranker:
    def __init__(self, dense: DenseRetriever):
        self.dense = dense
        self.name = f"embed:{dense.name}"
        self.encoded = 0  # documents encoded by the last rerank (0 when a cache served them)
        self._head_vectors: dict[str, dict[str, np.ndarray]] = {}  # corpus fingerprint -> doc id -> vector
        self._indexed: str | None = None  # fingerprint of the corpus the encoder has indexed

    def for_task(self, task: str, long_documents: bool = False) -> EmbeddingReranker:
        bound = copy.copy(self)
        bound.dense = self.dense.for_task(task, long_documents)
        bound._head_vectors, bound._indexed = {}, None  # instructions differ per task: nothing is shared across tasks
        return bound

    def spec(self) -> dict:
        return {"name": self.name, "kind": "embedding-cosine", "encoder": self.dense.spec()}

    def ran_with(self) -> dict:
        """Provenance for results: the encoder's engines; heads encoded here share the queries' engine."""
        out = self.dense.ran_with()
        if self._indexed is None:
            out["documents"] = out["queries"]
        return out

    def _doc_vectors(self, corpus: Corpus, docids: list[str], text: DocTexts) -> dict[str, np.ndarray]:
        self.encoded = 0
        if not self.dense.is_cached(corpus.fingerprint) and len(docids) > len(corpus) // 2:
            self.dense.index(corpus)  # most of the corpus anyway: encode it whole, into the shared disk cache
            self.encoded, self._indexed = len(corpus), corpus.fingerprint
        if self.dense.is_cached(corpus.fingerprint):
            if self._indexed != corpus.fingerprint:  # once per corpus, not per first stage reranked
                self.dense.index(corpus)  # memory-mapped: only the rows asked for are read
                self._indexed = corpus.fingerprint
            return self.dense.doc_vectors(docids)
        # a few heads of a large corpus: encode those documents only, once per task (several first
        # stages of one matrix rerank overlapping heads)
        seen = self._head_vectors.setdefault(corpus.fingerprint, {})
        todo = [d for d in docids if d not in seen]
        if todo:
            seen.update(zip(todo, self.dense.encode_documents([text(d) for d in todo])))
            self.encoded = len(todo)
        return {d: seen[d] for d in docids}

    def rerank(self, queries: dict[str, str], run: Run, corpus: Corpus, depth: int) -> Run:
        text = DocTexts(corpus)
        parts = heads(queries, run, depth)
        qids = list(parts)
        if not qids:
            return {}
        docids = list(dict.fromkeys(d for head, _ in parts.values() for d in head))
        for d in docids:
            text.require(d)  # an id outside the corpus fails here, before any encoding
        vec = self._doc_vectors(corpus, docids, text)
        qv = self.dense.encode_queries([queries[q] for q in qids])
        out: Run = {}
        for row, qid in progress(list(enumerate(qids)), total=len(qids), description=f"{self.name}: re-scoring"):
            head, tail = parts[qid]
            if not head:
                out[qid] = write_back([], tail)
                continue
            # float32 dot of unit vectors, as the dense retriever's exact search scores them
            scores = np.stack([vec[d] for d in head]).astype(np.float32) @ qv[row].astype(np.float32)
            out[qid] = write_back(order_by_scores(head, scores.tolist()), tail)
        return out
