"""Dense retrieval speed and memory: document encoding throughput of a real model on real text, and
exact blocked top-k search over a BRIGHT-sized (400k) memory-mapped embedding matrix.

    .venv/bin/python benchmarks/dense_speed.py --data-dir ../shared/bright --docs 500 --search-docs 400000

Prints one line per figure. Anonymous memory (RssAnon, sampled every 20 ms) shows that search holds
query x block scores, not the corpus: the memory-mapped matrix is file-backed and not counted there.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def rss_anon_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class PeakAnon:
    def __enter__(self):
        self.base, self.peak, self.stop = rss_anon_mib(), 0.0, False

        def watch():
            while not self.stop:
                self.peak = max(self.peak, rss_anon_mib())
                time.sleep(0.02)

        self.thread = threading.Thread(target=watch, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop = True
        self.thread.join()
        self.peak = max(self.peak, rss_anon_mib())


def bench_encode(data_dir: Path, n_docs: int, batch_size: int, device: str) -> None:
    from bright_eval.cache import ArtifactCache
    from bright_eval.data import Corpus, LocalSource
    from bright_eval.proxy import SE_TASKS
    from bright_eval.retrievers import RETRIEVERS

    src = LocalSource(data_dir)
    texts = [e.gold_answer for t in SE_TASKS for e in src.examples(t) if e.gold_answer.strip()][:n_docs]
    corpus = Corpus([f"d{i}" for i in range(len(texts))], texts, "bench")
    with tempfile.TemporaryDirectory() as tmp:
        r = RETRIEVERS.create("all-minilm-l6-v2", cache=ArtifactCache(tmp), batch_size=batch_size, device=device)
        r = r.for_task("biology")
        t0 = time.perf_counter()
        _ = r.model
        load_s = time.perf_counter() - t0
        words = sum(len(t.split()) for t in texts)
        t0 = time.perf_counter()
        r.index(corpus)
        enc_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        r.index(corpus)
        cached_s = time.perf_counter() - t0
        print(f"encode: all-minilm-l6-v2 on {device}, {len(texts)} real answers ({words / len(texts):.0f} words avg, "
              f"max_seq_length {r.model.max_seq_length}), batch {batch_size}, torch threads {_threads()}")
        print(f"  model load {load_s:.1f} s; encode+cache {enc_s:.1f} s = {len(texts) / enc_s:.1f} docs/s; cached reload {cached_s * 1000:.0f} ms")


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def bench_search(n_docs: int, dim: int, n_queries: int, k: int, device: str) -> None:
    from bright_eval.retrievers.dense import exact_top_k

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "docs.npy"
        mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_docs, dim))
        for lo in range(0, n_docs, 50_000):
            block = rng.normal(size=(min(50_000, n_docs - lo), dim)).astype(np.float32)
            mm[lo:lo + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
        mm.flush()
        del mm
        docs = np.load(path, mmap_mode="r")
        q = rng.normal(size=(n_queries, dim)).astype(np.float32)
        excl = [np.sort(rng.choice(n_docs, size=5000, replace=False)) for _ in range(n_queries)]  # aops-like exclusion lists
        with PeakAnon() as mem:
            t0 = time.perf_counter()
            scores, idx = exact_top_k(q, docs, k, excl, device=device)
            secs = time.perf_counter() - t0
        matrix_mib = n_docs * dim * 4 / 2**20
        print(f"search: {n_queries} queries x {n_docs} docs x {dim} dims (memmap {matrix_mib:.0f} MiB), top-{k}, 5000 excluded ids/query, {device}")
        print(f"  {secs:.2f} s = {n_queries / secs:.1f} queries/s; anonymous memory +{mem.peak - mem.base:.0f} MiB at peak "
              f"(baseline {mem.base:.0f} MiB)")
        # Exactness spot check against a full sort for one query.
        full = np.asarray(docs) @ q[0]
        full[excl[0]] = -np.inf
        want = np.argsort(-full, kind="stable")[:k]
        print(f"  exact: top-{k} of query 0 identical to a full sort: {bool(np.array_equal(idx[0], want))}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "bright")
    ap.add_argument("--docs", type=int, default=500, help="real documents to encode (0: skip)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--search-docs", type=int, default=400_000, help="synthetic corpus size for search (0: skip)")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=1000)
    ap.add_argument("--device", default=os.environ.get("BRIGHT_EVAL_DEVICE", "cpu"))
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.docs:
        bench_encode(args.data_dir, args.docs, args.batch_size, args.device)
    if args.search_docs:
        bench_search(args.search_docs, args.dim, args.queries, args.k, args.device)


if __name__ == "__main__":
    main()
