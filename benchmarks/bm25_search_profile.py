"""Where a BM25 search's time goes, per query, for both flavours.

Indexes data/corpus.jsonl once per flavour (term counts cached under --cache, so a rerun skips
the analysis; --fresh analyses in this process, as bm25_speed.py does), then runs each query
through search()'s steps one at a time: the compiled search (one call) and the numpy reference
step by step. Reports ms/query per step, wall and process CPU (on a shared machine wall counts
the time other jobs held the core), with the load average.

    PYTHONPATH=$PWD python benchmarks/bm25_search_profile.py [--docs 60000] [--queries 200]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _reference as R  # noqa: E402

R.ensure_project_importable()
from bright_eval.cache import ArtifactCache  # noqa: E402
from bright_eval.data import Corpus  # noqa: E402
from bright_eval.retrievers import bm25  # noqa: E402


class Clock:
    def __init__(self):
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def __call__(self, step, fn, *args):
        w, c = time.perf_counter(), time.process_time()
        out = fn(*args)
        self.wall[step] = self.wall.get(step, 0.0) + time.perf_counter() - w
        self.cpu[step] = self.cpu.get(step, 0.0) + time.process_time() - c
        return out


def _hits_dict(ids, docs, scores):
    return dict(zip(map(ids.__getitem__, docs.tolist()), scores[docs].tolist()))


def _zero_fill(scores, room):
    return np.flatnonzero(scores == 0)[:room].tolist() if room > 0 else None


def profile(r: bm25.BM25Retriever, queries: dict[str, str], k: int, threads: int) -> Clock:
    clock = Clock()
    tie = r._tie_rank if r.flavour == "lucene" else None
    lucene, p, c = r.flavour == "lucene", r._postings, bm25._bm25c
    for q in queries.values():
        terms, qtf = clock("query terms", r._query_terms, q)  # first sight of the query's spans
        clock("query terms again", r._query_terms, q)
        qw = clock("query weights", r._query_weights, terms, qtf)
        if c is not None:
            args = (p.indptr, p.indices, p.data, terms, qw, lucene, k, tie, r._tie_order if lucene else None, None,
                    not lucene, r.doc_ids)
            clock("C search", c.search, *args, 1)
            clock(f"C search, {threads} threads", c.search, *args, -threads)
            clock("C search, k=1 (~scoring)", c.search, *args[:6], 1, *args[7:], 1)
        # the numpy reference, step by step
        scores = clock("numpy scores", r._scores, terms, qtf).astype(np.float32, copy=False)
        docs = clock("numpy top-k", bm25._top_k_dense, scores, k, tie)
        hits = clock("numpy hits dict", _hits_dict, r.doc_ids, docs, scores)
        if r.flavour == "bright":
            clock("numpy zero fill", _zero_fill, scores, k - len(hits))
    for q in queries.items():  # the real thing, end to end (the query's spans seen before)
        clock("search() total", r.search, dict([q]), k)
    return clock


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--docs", type=int, default=60_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=1000)
    ap.add_argument("--cache", default="/tmp/bm25_profile_cache")
    ap.add_argument("--flavours", default="bright,lucene")
    ap.add_argument("--threads", type=int, default=2, help="also time the compiled search split across this many threads")
    ap.add_argument("--fresh", action="store_true", help="analyse the corpus here (as bm25_speed.py does), not from "
                    "--cache: the analyzer then already knows the corpus's words when the queries come")
    args = ap.parse_args(argv)
    from bright_eval.retrievers.analysis import EnglishAnalyzer

    ids, texts = R.load_corpus(max_docs=args.docs)
    queries = R.load_queries(max_queries=args.queries)
    words = sum(len(q.split()) for q in queries.values()) / len(queries)
    print(f"{len(ids):,} docs, {len(queries)} queries (~{words:.0f} words), top-{args.k}; "
          f"C kernel: {bm25._bm25c is not None}; {bm25.__file__}")
    for flavour in args.flavours.split(","):
        r = bm25.BM25Retriever(flavour, analyzer=EnglishAnalyzer(), cache=None if args.fresh else ArtifactCache(args.cache))
        r.index(Corpus(ids, texts))
        r.search(dict(list(queries.items())[:5]), k=args.k)  # warm the span cache and the pages
        clock = profile(r, queries, args.k, args.threads)
        n = len(queries)
        print(f"\n{r.name}  (load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})")
        print(f"  {'step':26s} {'wall ms/q':>10s} {'CPU ms/q':>10s}")
        for step in clock.wall:
            print(f"  {step:26s} {clock.wall[step] / n * 1e3:10.3f} {clock.cpu[step] / n * 1e3:10.3f}")


if __name__ == "__main__":
    main()
