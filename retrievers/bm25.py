"""BM25 on scipy.sparse posting lists, in two exact flavours.

* ``bright`` reproduces BRIGHT's pipeline (Lucene English tokens -> gensim ``LuceneBM25Model(k1=0.9,
  b=0.4)`` applied to documents *and* the query -> dot product): idf enters twice and repeated query
  terms saturate. Weights are stored as float32, as gensim's ``SparseMatrixSimilarity`` does.
* ``lucene`` reproduces Lucene 9's ``BM25Similarity`` as Anserini runs it: query terms weighted by
  their count, float32 arithmetic in Lucene's operation order, and document lengths quantised to
  Lucene's one-byte norms.

The costly part, turning text into a term x document count matrix, is cached on disk by corpus
fingerprint + analyzer; the weighting is recomputed from it in well under a second, so one cached
analysis serves both flavours and any k1/b.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from bright_eval.cache import ArtifactCache
from bright_eval.data import Corpus
from bright_eval.progress import progress
from bright_eval.trec import Run

from . import _counting
from .analysis import EnglishAnalyzer

try:  # optional C kernels (pyproject's ext-modules); the numpy code below is the reference
    from . import _bm25c
except ImportError:  # pragma: no cover - built wherever a C compiler was available
    _bm25c = None

BLOCK = 2_000_000  # postings per weighting step (float64 temporaries of this size)

log = logging.getLogger(__name__)


class TermCounts:
    """Term-major posting lists: for term t, docs ``indices[indptr[t]:indptr[t+1]]`` with counts ``tf``."""

    def __init__(self, vocab: list[str], indptr: np.ndarray, indices: np.ndarray, tf: np.ndarray, lengths: np.ndarray):
        self.vocab = vocab
        self.term_index = dict(zip(vocab, range(len(vocab))))
        self.indptr, self.indices, self.tf, self.lengths = indptr, indices, tf, lengths

    @property
    def n_docs(self) -> int:
        return len(self.lengths)

    @classmethod
    def build(cls, token_lists: Iterable[list[str]], n_docs: int) -> TermCounts:
        """From ready-made token lists (any tokenizer), in this process."""
        return cls._assemble(_counting.token_blocks(token_lists), n_docs)

    @classmethod
    def from_texts(cls, texts: Sequence[str], analyzer: Callable[[str], list[str]], processes: int | None = None,
                   min_parallel: int | None = None, description: str = "") -> TermCounts:
        """Analyse and count in one pass: in worker processes when the analyzer can give term ids
        (EnglishAnalyzer.term_ids), else token lists in this process. `texts` is iterated once,
        front to back (anything with a length: a list, or a stream from disk)."""
        if hasattr(analyzer, "term_ids"):
            blocks = _counting.blocks(analyzer, texts, len(texts), processes,
                                      _counting.PARALLEL_FROM if min_parallel is None else min_parallel)
        else:
            blocks = _counting.text_blocks(analyzer, texts)
        return cls._assemble(blocks, len(texts), description)

    @classmethod
    def _assemble(cls, blocks: Iterable, n_docs: int, description: str = "") -> TermCounts:
        asm = _counting.Assembler()
        done = 0
        for b in progress(blocks, total=None, description=description or "counting terms"):
            asm.add(b)
            done += len(b.lengths)
        if done != n_docs:
            raise ValueError(f"analyzer produced {done} token lists for {n_docs} documents")
        return cls(*asm.finish())

    def save(self, folder: Path) -> None:
        np.save(folder / "indptr.npy", self.indptr)
        np.save(folder / "indices.npy", self.indices)
        np.save(folder / "tf.npy", self.tf)
        np.save(folder / "lengths.npy", self.lengths)
        (folder / "vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False))

    @classmethod
    def load(cls, folder: Path, n_docs: int | None = None) -> TermCounts:
        """Raises OSError/ValueError/EOFError on a damaged or inconsistent folder (a truncated array, an
        emptied vocabulary), which would otherwise surface later as wrong scores or an IndexError."""
        vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        arrays = [np.asarray(np.load(folder / f"{n}.npy", mmap_mode="r")) for n in ("indptr", "indices", "tf", "lengths")]
        indptr, indices, tf, lengths = arrays
        if not isinstance(vocab, list) or len(indptr) != len(vocab) + 1 or indptr[0] != 0 or indptr[-1] != len(indices) \
                or len(tf) != len(indices) or (n_docs is not None and len(lengths) != n_docs):
            raise ValueError(f"inconsistent sizes: {len(vocab) if isinstance(vocab, list) else '?'} terms, {len(indptr)} offsets, "
                             f"{len(indices)} postings, {len(tf)} counts, {len(lengths)} documents"
                             + (f" (corpus has {n_docs})" if n_docs is not None else ""))
        return cls(vocab, *arrays)


def _idf_per_posting(indptr: np.ndarray, idf: np.ndarray):
    """(lo, hi, idf of each posting in lo:hi) over blocks of about BLOCK postings: each term's idf
    repeated over its posting list, so no per-posting search for its term."""
    n_terms = len(indptr) - 1
    t = 0
    while t < n_terms:
        # the terms whose lists start before indptr[t] + BLOCK (at least one term)
        end = max(t + 1, int(np.searchsorted(indptr, indptr[t] + BLOCK, side="right")) - 1)
        end = min(end, n_terms)
        lo, hi = int(indptr[t]), int(indptr[end])
        yield lo, hi, np.repeat(idf[t:end], np.diff(indptr[t:end + 1]))
        t = end


def lucene_quantized_length(lengths: np.ndarray) -> np.ndarray:
    """Lucene's one-byte norm (SmallFloat.intToByte4 / byte4ToInt): exact below 24, then 4 significant bits."""

    def int4(i: int) -> int:
        nb = int(i).bit_length()
        if nb < 4:
            return int(i)
        s = nb - 4
        return ((i >> s) & 7) | ((s + 1) << 3)

    def back(i: int) -> int:
        bits, s = i & 7, (i >> 3) - 1
        return bits if s == -1 else (bits | 8) << s

    free = 255 - int4(2**31 - 1)
    table = {int(dl): (int(dl) if dl < free else free + back(int4(int(dl) - free))) for dl in np.unique(lengths)}
    return np.array([table[int(dl)] for dl in lengths], dtype=np.int64) if len(lengths) else np.zeros(0, np.int64)


class BM25Retriever:
    def __init__(self, flavour: str = "bright", k1: float = 0.9, b: float = 0.4, analyzer: Callable[[str], list[str]] | None = None,
                 cache: ArtifactCache | None = None, name: str | None = None, batch_size: int = 64, threads: int = 1):
        if flavour not in ("bright", "lucene"):
            raise ValueError(f"unknown BM25 flavour {flavour!r} (bright or lucene)")
        if analyzer is None:
            analyzer = EnglishAnalyzer()
        self.flavour, self.k1, self.b = flavour, float(k1), float(b)
        self.analyzer = analyzer
        self.cache = cache
        self.name = name or ("bm25" if flavour == "bright" else "bm25-lucene")
        self.batch_size = batch_size
        # Threads per query for the compiled scoring (big queries on big corpora only). One by
        # default: where other jobs keep the cores busy the extra thread waits for one, and
        # bm25_speed.py measured 4.6 ms/query wall for 1.8 ms of CPU (2 cores, load 2.5).
        self.threads = threads
        self.timings: dict[str, float] = {}
        self.index_parts: dict[str, float] = {}
        self._pos: dict[str, int] | None = None  # doc id -> position, for exclusions
        self.counts: TermCounts | None = None
        self.doc_ids: list[str] = []

    def spec(self) -> dict:
        return {"name": self.name, "flavour": self.flavour, "k1": self.k1, "b": self.b,
                "analyzer": getattr(self.analyzer, "fingerprint", type(self.analyzer).__name__)}

    # -- indexing ---------------------------------------------------------------------------------------
    def _analyze_corpus(self, corpus: Corpus) -> TermCounts:
        return TermCounts.from_texts(corpus.texts, self.analyzer, description=f"{self.name}: analysing {len(corpus):,} docs")

    def _key(self, corpus_fingerprint: str) -> str:
        assert self.cache is not None
        return self.cache.key(kind="bm25-term-counts", corpus=corpus_fingerprint, analyzer=self.spec()["analyzer"])

    def is_cached(self, corpus_fingerprint: str) -> bool:
        return self.cache is not None and self.cache.has("bm25", self._key(corpus_fingerprint))

    def release(self) -> None:
        self.counts, self.doc_ids, self._pos = None, [], None
        for attr in ("_postings", "_tie_rank", "_tie_order", "_qids", "_qids_of"):
            self.__dict__.pop(attr, None)
        if isinstance(self.analyzer, EnglishAnalyzer):
            self.analyzer.forget()

    def index(self, corpus: Corpus) -> None:
        t0 = time.perf_counter()
        self.release()  # the previous corpus's index is not kept alive while the next one is built
        analysed = self.cache is None
        if self.cache is None:
            self.counts = self._analyze_corpus(corpus)
        else:
            key = self._key(corpus.fingerprint)
            self.counts = self._load_cached(key, len(corpus)) if self.cache.has("bm25", key) else None
            if self.counts is None:
                analysed = True
                self.counts = self._analyze_corpus(corpus)
                with self.cache.build("bm25", key) as folder:
                    self.counts.save(folder)
        self.doc_ids = corpus.ids
        t1 = time.perf_counter()
        self._weigh()
        t2 = time.perf_counter()
        self.timings["index_s"] = t2 - t0
        self.index_parts = {("analyse_s" if analysed else "load_counts_s"): t1 - t0, "weigh_s": t2 - t1}

    def _load_cached(self, key: str, n_docs: int) -> TermCounts | None:
        """The cached analysis, or None (after deleting it) when it is damaged, so that it is rebuilt."""
        assert self.cache is not None
        folder = self.cache.dir_for("bm25", key)
        try:
            counts = TermCounts.load(folder, n_docs)
        except (OSError, ValueError, EOFError) as exc:
            log.warning("%s: cached index %s is damaged (%s: %s); deleting it and rebuilding", self.name, folder,
                        type(exc).__name__, str(exc)[:160])
            shutil.rmtree(folder, ignore_errors=True)
            return None
        self.cache.hit("bm25")
        return counts

    def _weigh(self) -> None:
        """Per-posting weights, computed in blocks so that 400k-document corpora need no float64
        copy of every posting at once."""
        c = self.counts
        assert c is not None
        k1, b = self.k1, self.b
        df = np.diff(c.indptr)
        weights = np.empty(len(c.indices), dtype=np.float32)
        if self.flavour == "bright":
            # gensim: N counts every document, avgdl = all tokens / N; weights stored as float32.
            n = c.n_docs
            self.avgdl = float(c.lengths.sum()) / n if n else 1.0
            self.idf = np.log1p((n - df + 0.5) / (df + 0.5))
            doc_norm = k1 * (1 - b + b * c.lengths / self.avgdl)
            for lo, hi, idf in _idf_per_posting(c.indptr, self.idf):
                tf = c.tf[lo:hi].astype(np.float64)
                weights[lo:hi] = idf * tf / (tf + doc_norm[c.indices[lo:hi]])
        else:
            f32 = np.float32
            # Lucene: docCount and avgdl only see documents that have at least one token.
            n = int((c.lengths > 0).sum())
            self.avgdl = f32(float(c.lengths.sum()) / n) if n else f32(1)
            self.idf = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(f32)
            qlen = lucene_quantized_length(c.lengths).astype(f32)
            norm_inv = (f32(1) / (f32(k1) * ((f32(1) - f32(b)) + f32(b) * qlen / self.avgdl))).astype(f32)
            for lo in range(0, len(c.indices), BLOCK):
                sl = slice(lo, lo + BLOCK)
                # freq * normInverse, rounded to float32 exactly where Lucene rounds it.
                weights[sl] = c.tf[sl].astype(f32) * norm_inv[c.indices[sl]]
            # Lucene breaks score ties by ascending doc id (Python's str order = Lucene's byte order here).
            order = sorted(range(len(self.doc_ids)), key=self.doc_ids.__getitem__)
            self._tie_order = np.array(order, np.int64)
            self._tie_rank = np.empty(len(order), np.int64)
            self._tie_rank[order] = np.arange(len(order))
        # Term-major CSR over the posting arrays (no copy while the index fits int32): a query's
        # posting lists are then one row slice in C, and BRIGHT's dot product one sparse mat-vec.
        indptr = c.indptr.astype(np.int32) if len(c.indices) < 2**31 else c.indptr
        indices = c.indices if indptr.dtype == c.indices.dtype else c.indices.astype(indptr.dtype)
        self._postings = sp.csr_matrix((weights, indices, indptr), shape=(len(df), c.n_docs), copy=False)

    # -- search -----------------------------------------------------------------------------------------
    def _query_terms(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Distinct known terms of the query in first-seen order, with their counts."""
        ti = self.counts.term_index  # type: ignore[union-attr]
        if hasattr(self.analyzer, "term_ids"):
            # the analyzer's span cache keyed to this vocabulary: a query costs per-span lookups
            if getattr(self, "_qids_of", None) is not ti:
                self._qids, self._qids_of = self.analyzer.term_ids(known=ti), ti
            c = Counter(self._qids(text))
            return (np.fromiter(c.keys(), np.int64, len(c)) - 1, np.fromiter(c.values(), np.float64, len(c)))
        ids: dict[int, int] = {}
        for tok in self.analyzer(text):
            j = ti.get(tok)
            if j is not None:  # gensim's doc2bow and Lucene both ignore unknown terms
                ids[j] = ids.get(j, 0) + 1
        return np.fromiter(ids.keys(), np.int64, len(ids)), np.fromiter(ids.values(), np.float64, len(ids))

    def _query_weights(self, terms: np.ndarray, qtf: np.ndarray) -> np.ndarray:
        """float32 weight of each query term (bright: gensim's float32 query vector)."""
        if self.flavour == "bright":
            norm = self.k1 * (1 - self.b + self.b * qtf.sum() / self.avgdl)
            return (self.idf[terms] * qtf / (qtf + norm)).astype(np.float32)
        return (qtf.astype(np.float32) * self.idf[terms]).astype(np.float32)

    def _scores(self, terms: np.ndarray, qtf: np.ndarray) -> np.ndarray:
        """Scores over all documents from the query's posting lists only (a row slice of the
        term-major matrix): the numpy reference for the compiled search."""
        n = self.counts.n_docs
        if len(terms) == 0:
            return np.zeros(n, np.float32)
        qw, p = self._query_weights(terms, qtf), self._postings
        if self.flavour == "bright":
            return p[terms].T @ qw  # float32 products and sums, as gensim's sparse product
        rows = p[terms]
        w = np.repeat(qw, np.diff(rows.indptr))
        # Lucene: weight - weight / (1f + freq * normInverse), each step a float; summed in double.
        contrib = w - w / (np.float32(1) + rows.data)
        return np.bincount(rows.indices, weights=contrib, minlength=n)

    def _hits(self, terms: np.ndarray, qtf: np.ndarray, k: int, excluded: np.ndarray | None) -> dict[str, float]:
        """One query's ranking, best first (the numpy reference for _bm25c.search)."""
        scores = self._scores(terms, qtf).astype(np.float32, copy=False)
        if excluded is not None:
            scores[excluded] = -np.inf
        docs = _top_k_dense(scores, k, self._tie_rank if self.flavour == "lucene" else None)
        hits = dict(zip(map(self.doc_ids.__getitem__, docs.tolist()), scores[docs].tolist()))
        if self.flavour == "bright" and len(hits) < k:
            # BRIGHT sorts every document's score, so unmatched documents (score 0) fill the
            # ranking in corpus order after the matched ones (excluded ones stay out).
            for i in np.flatnonzero(scores == 0)[: k - len(hits)].tolist():
                hits[self.doc_ids[i]] = 0.0
        return hits

    def search(self, queries: dict[str, str], k: int = 1000, exclude: dict[str, set[str]] | None = None) -> Run:
        if self.counts is None:
            raise RuntimeError("search() before index()")
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        t0 = time.perf_counter()
        exclude = exclude or {}
        run: Run = {}
        p, lucene = self._postings, self.flavour == "lucene"
        ids = self.doc_ids if isinstance(self.doc_ids, list) else list(self.doc_ids)
        for qid in progress(list(queries), total=len(queries), description=f"{self.name}: searching {len(queries)} queries"):
            terms, qtf = self._query_terms(queries[qid])
            ex, excluded = exclude.get(qid), None
            if ex:
                if self._pos is None:  # built once per index, not per search call
                    self._pos = {d: i for i, d in enumerate(self.doc_ids)}
                pos = self._pos
                # map() keeps the lookups in C: BRIGHT excludes thousands of ids per query on some tasks
                excluded = np.array([i for i in map(pos.get, ex) if i is not None], np.int64)
            if _bm25c is None:
                run[qid] = self._hits(terms, qtf, k, excluded)
            else:  # the same steps in one call (with threads > 1, big queries scored across cores)
                run[qid] = _bm25c.search(p.indptr, p.indices, p.data, terms, self._query_weights(terms, qtf), lucene, k,
                                         self._tie_rank if lucene else None, self._tie_order if lucene else None,
                                         excluded, not lucene, ids, self.threads)
        self.timings["search_s"] = time.perf_counter() - t0
        return run


def _top_k_dense(scores: np.ndarray, k: int, tie_rank: np.ndarray | None) -> np.ndarray:
    """Indices of the top k documents with a positive score (matched, not excluded), best first;
    ties broken by ascending `tie_rank` (Lucene: doc id order) or, without it, by corpus order
    (BRIGHT's stable sort). Works on the dense score vector: no gather of all matched documents."""
    cand = _candidates(scores, k)
    vals = scores[cand]
    if tie_rank is None:  # cand is ascending: a stable sort keeps corpus order among ties
        order = np.argsort(-vals, kind="stable")
    else:
        order = np.lexsort((tie_rank[cand], -vals))
    return cand[order[:k]]


def _candidates(scores: np.ndarray, k: int) -> np.ndarray:
    """Ascending indices of a superset of the top k positive scores that holds every document
    scoring at least the k-th best. A threshold read from a strided sample usually keeps ~1.5k
    documents in two vector passes; an exact partition of all scores is the fallback."""
    n = len(scores)
    if n <= k:
        return np.flatnonzero(scores > 0)
    step = n // (4 * k)
    if step >= 2:
        sample = scores[::step]
        j = 3 * k // (2 * step) + 1  # about 1.5k documents score at least the sample's j-th best
        thr = np.partition(sample, len(sample) - j)[len(sample) - j]
        if thr > 0:
            cand = np.flatnonzero(scores >= thr)
            if len(cand) >= k:  # then thr <= the k-th best score: nothing that matters is left out
                return cand
    kth = np.partition(scores, n - k)[n - k]
    return np.flatnonzero(scores >= kth) if kth > 0 else np.flatnonzero(scores > 0)
