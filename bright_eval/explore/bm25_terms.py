"""Why a document ranks where it does under BM25: each matched query term's share of its score.

The scores are BM25Retriever's own (retrievers/bm25.py): the same analysis, the same cached term
counts (ArtifactCache, keyed by corpus fingerprint + analyzer) and the same per-posting weights, so
the contributions of a document add up to the score in the run file (float32 rounding aside;
tests/test_explore.py checks it). Nothing here changes how BM25 analyses or scores."""

from __future__ import annotations

import logging
import re

import numpy as np

from bright_eval.cache import ArtifactCache
from bright_eval.data import Corpus

log = logging.getLogger(__name__)
WORD = re.compile(r"\w+(?:['’.]\w+)*")


def is_bm25(spec: object) -> bool:
    return isinstance(spec, dict) and spec.get("name") in ("bm25", "bm25-lucene") and spec.get("flavour") in ("bright", "lucene")


class TermExplainer:
    """One BM25 index per (spec, corpus): built from the cached counts, analysed only when absent."""

    def __init__(self, spec: dict, corpus: Corpus, cache: ArtifactCache | None = None):
        from bright_eval.retrievers.bm25 import BM25Retriever

        self.retriever = BM25Retriever(flavour=spec["flavour"], k1=spec["k1"], b=spec["b"], cache=cache or ArtifactCache(),
                                       name=spec["name"])
        have = self.retriever.spec()["analyzer"]
        if spec.get("analyzer") not in (None, have):
            raise ValueError(f"the run used analyzer {spec.get('analyzer')}, this code has {have}")
        self.retriever.index(corpus)
        self.pos = {d: i for i, d in enumerate(corpus.ids)}
        self.key = spec["name"] + "".join(f",{k}={spec[k]}" for k in ("k1", "b") if k in spec)
        self._words: dict[str, tuple[str, ...]] = {}

    def contributions(self, query: str, doc_ids: list[str]) -> dict[str, list[tuple[str, float]]]:
        """{doc: [(term, score share), ...] largest first} for the documents that match the query."""
        r = self.retriever
        terms, qtf = r._query_terms(query)
        cols = [self.pos[d] for d in doc_ids if d in self.pos]
        if not len(terms) or not cols:
            return {}
        qw = r._query_weights(terms, qtf)
        w = r._postings[terms][:, cols].toarray()  # per-posting weights, terms x shown documents
        if r.flavour == "bright":
            contrib = qw[:, None] * w  # float32, as the sparse product
        else:
            wq = np.repeat(qw[:, None], len(cols), axis=1)
            contrib = np.where(w > 0, wq - wq / (np.float32(1) + w), 0).astype(np.float64)
        vocab = r.counts.vocab
        out = {}
        shown = [d for d in doc_ids if d in self.pos]
        for j, doc in enumerate(shown):
            nz = np.flatnonzero(contrib[:, j])
            pairs = sorted(((vocab[int(terms[i])], float(contrib[i, j])) for i in nz), key=lambda p: -p[1])
            if pairs:
                out[doc] = pairs
        return out

    def matched_words(self, text: str, matched: set[str]) -> dict[str, str]:
        """{word as written: the query term it analyses to} for the words of `text` that matched."""
        out: dict[str, str] = {}
        if not matched:
            return out
        for word in set(WORD.findall(text)):
            terms = self._words.get(word)
            if terms is None:
                terms = self._words[word] = tuple(self.retriever.analyzer(word))
            hit = next((t for t in terms if t in matched), None)
            if hit is not None:
                out[word] = hit
        return out
