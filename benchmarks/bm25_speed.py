"""BM25 speed and memory, side by side on one corpus, then a scaling curve for ours.

Each pipeline runs in its own subprocess so that its peak RSS is its own. Ours (`ours-bm25*`)
reads the passages' text from the file as it indexes (as Lucene's indexer does); the others hold
the corpus in memory. Pipelines:
ours (``bm25`` / ``bm25-lucene``: EnglishAnalyzer + scipy), Lucene via Pyserini (Anserini
IndexCollection, 2 threads, + LuceneSearcher), BRIGHT's gensim pipeline (Lucene tokens via
JNI), bm25s (its own tokenizer + PyStemmer), rank-bm25 (BM25Okapi on our tokens, a few
queries only: it scores every document in Python). Search is one query at a time, top-1000.

    /tmp/refvenv/bin/python benchmarks/bm25_speed.py [--docs 60000] [--queries 200]

Writes benchmarks/out/bm25_speed.json. Corpora above the size of data/corpus.jsonl are
grown by re-cutting the same text into 300-word windows at shifted offsets (new passages,
same vocabulary), which the output says; they are written once to data/corpus_grown_N.jsonl.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _reference as R  # noqa: E402

# Documents per BRIGHT task (HF card), for the projection.
BRIGHT_DOCS = {"biology": 57359, "earth_science": 121249, "economics": 50220, "psychology": 52835,
               "robotics": 61961, "stackoverflow": 107081, "sustainable_living": 60792,
               "leetcode": 413932, "pony": 7894, "aops": 188177, "theoremqa_theorems": 23839,
               "theoremqa_questions": 188177}
BRIGHT_QUERIES = {"biology": 103, "earth_science": 116, "economics": 103, "psychology": 101,
                  "robotics": 101, "stackoverflow": 117, "sustainable_living": 108, "leetcode": 142,
                  "pony": 112, "aops": 111, "theoremqa_theorems": 76, "theoremqa_questions": 194}


def _grow(n: int):
    ids, texts = R.load_corpus()
    words = " ".join(texts).split()
    shift = 0
    while len(ids) < n:
        shift += 37  # a new cut of the same text: passages start 37 words later each round
        for i in range(shift, len(words) - 300, 300):
            ids.append(f"cut{shift}/{i}")
            texts.append(" ".join(words[i:i + 300]))
            if len(ids) == n:
                break
    return ids, texts


def grown_file(n: int) -> Path:
    """A corpus of n passages grown from data/corpus.jsonl, written once to data/ by the parent
    process: growing it needs the whole corpus as a list of words (~2 GB), which would otherwise
    count in the measured worker's peak RSS."""
    base = R.DATA / "corpus.jsonl"
    path = R.DATA / f"corpus_grown_{n}.jsonl"
    if not path.exists() or path.stat().st_mtime < base.stat().st_mtime:
        ids, texts = _grow(n)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with tmp.open("w") as f:
            for i, t in zip(ids, texts):
                f.write(json.dumps({"id": i, "content": t}, ensure_ascii=False) + "\n")
        tmp.replace(path)
    return path


def base_size() -> int:
    with open(R.DATA / "corpus.jsonl") as f:
        return sum(1 for _ in f)


class FileTexts:
    """A corpus's texts read from its JSONL file on each pass, never all held at once: how a
    streaming data layer feeds the indexer (which reads its texts once, front to back)."""

    def __init__(self, path: Path, n: int):
        self.path, self.n = path, n

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        with open(self.path) as f:
            for i, line in enumerate(f):
                if i >= self.n:
                    return
                yield json.loads(line)["content"]


def corpus_of(n: int, stream: bool = False):
    """(ids, texts, grown); with `stream`, texts is a FileTexts over the file."""
    grown = n > base_size()
    path = grown_file(n) if grown else R.DATA / "corpus.jsonl"
    if not stream:
        ids, texts = R.load_corpus(path, max_docs=n)
        return ids, texts, grown
    ids = []
    with open(path) as f:
        for line in f:
            ids.append(json.loads(line)["id"])
            if len(ids) == n:
                break
    return ids, FileTexts(path, len(ids)), grown


def _vm_hwm_gb(pid="self") -> float:
    """Peak RSS of one process from /proc (VmHWM). Unlike getrusage's ru_maxrss, it starts
    afresh at exec, so it does not inherit the peak of the process that spawned this one."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    return float("nan")


class TreeMemory:
    """Samples the proportional set size (PSS) of this process and all its descendants (Pool
    workers, the JVM) every `interval` s; `peak_gb` is the largest total seen. PSS splits pages
    shared after fork among the processes sharing them, so the total is memory really used."""

    def __init__(self, interval: float = 0.25):
        import threading

        self.interval, self.peak_gb = interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _tree(pid: int) -> list[int]:
        out, todo = [], [pid]
        while todo:
            p = todo.pop()
            out.append(p)
            try:
                for task in os.listdir(f"/proc/{p}/task"):
                    with open(f"/proc/{p}/task/{task}/children") as f:
                        todo.extend(int(c) for c in f.read().split())
            except OSError:
                pass
        return out

    @staticmethod
    def _pss_kb(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _run(self):
        me = os.getpid()
        while not self._stop.is_set():
            total = sum(self._pss_kb(p) for p in self._tree(me)) * 1024 / 1e9
            self.peak_gb = max(self.peak_gb, total)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _usage() -> dict:
    """Peak memory (own VmHWM; and the sampled peak PSS of the whole process tree, which counts
    Pool workers and the JVM), CPU seconds of the process and its children, and the machine's
    load: on a shared 2-core box a load above 2 means other jobs slowed these timings down."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"peak_rss_gb": _vm_hwm_gb(),
            "cpu_s": own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime,
            "load_avg_1min": os.getloadavg()[0]}


# --- one pipeline per process ---------------------------------------------------------------
def run_ours(flavour, ids, texts, queries):
    R.ensure_project_importable()
    from bright_eval.data import Corpus
    from bright_eval.retrievers.analysis import EnglishAnalyzer
    from bright_eval.retrievers.bm25 import BM25Retriever

    r = BM25Retriever(flavour=flavour, k1=0.9, b=0.4, analyzer=EnglishAnalyzer())
    t0 = time.perf_counter()
    r.index(Corpus(ids, texts))
    t1, c1 = time.perf_counter(), time.process_time()
    for qid, q in queries.items():
        r.search({qid: q}, k=1000)
    # CPU time too: on a shared machine with more runnable jobs than cores, wall time per query
    # counts the time other jobs held the core
    return {"index_s": t1 - t0, "search_ms": (time.perf_counter() - t1) / len(queries) * 1e3,
            "search_cpu_ms": (time.process_time() - c1) / len(queries) * 1e3}


def run_analyzer(ids, texts, queries):
    """Analysis + term counting alone (what indexing costs before BM25 weighting): as indexing
    does it (one process below PARALLEL_FROM documents), forced into two worker processes, and
    on the pure-Python path (no compiled span loop)."""
    R.ensure_project_importable()
    from bright_eval.retrievers.analysis import EnglishAnalyzer
    from bright_eval.retrievers.bm25 import TermCounts

    out = {}
    for key, an, procs in (("index_s", EnglishAnalyzer(), None),
                           ("two_processes_s", EnglishAnalyzer(), 2),
                           ("pure_python_s", EnglishAnalyzer(compiled=False), None)):
        t0 = time.perf_counter()
        counts = TermCounts.from_texts(texts, an, processes=procs, min_parallel=1 if procs else None)
        out[key] = time.perf_counter() - t0
        del counts
    out["compiled"] = EnglishAnalyzer().term_ids().compiled
    out["words"] = sum(len(x.split()) for x in texts)
    return out


def run_lucene(ids, texts, queries):
    from bm25_parity import anserini_index

    with tempfile.TemporaryDirectory(prefix="anserini-") as tmp:
        t_index = anserini_index(ids, texts, Path(tmp), threads=2)
        R.pyserini()
        from pyserini.search.lucene import LuceneSearcher

        searcher = LuceneSearcher(str(Path(tmp) / "index"))
        searcher.set_bm25(0.9, 0.4)
        t0 = time.perf_counter()
        for q in queries.values():
            searcher.search(q, k=1000)
        t_search = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in (Path(tmp) / "index").iterdir()) / 1e9
    return {"index_s": t_index, "search_ms": t_search / len(queries) * 1e3, "index_gb": size}


def run_gensim(ids, texts, queries):
    from gensim.corpora import Dictionary
    from gensim.models import LuceneBM25Model
    from gensim.similarities import SparseMatrixSimilarity

    analyze = R.lucene_analyzer()
    t0 = time.perf_counter()
    corpus = [analyze(x) for x in texts]
    t_tok = time.perf_counter() - t0
    dictionary = Dictionary(corpus)
    model = LuceneBM25Model(dictionary=dictionary, k1=0.9, b=0.4)
    index = SparseMatrixSimilarity(model[list(map(dictionary.doc2bow, corpus))], num_docs=len(corpus),
                                   num_terms=len(dictionary), normalize_queries=False,
                                   normalize_documents=False)
    t_index = time.perf_counter() - t0
    t0 = time.perf_counter()
    for q in queries.values():
        sims = index[model[dictionary.doc2bow(analyze(q))]].tolist()
        sorted(zip(ids, sims), key=lambda x: x[1], reverse=True)[:1000]
    return {"index_s": t_index, "tokenize_s": t_tok,
            "search_ms": (time.perf_counter() - t0) / len(queries) * 1e3}


def run_bm25s(ids, texts, queries):
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    t0 = time.perf_counter()
    tokens = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False)
    t_tok = time.perf_counter() - t0
    model = bm25s.BM25(k1=0.9, b=0.4)
    model.index(tokens, show_progress=False)
    t_index = time.perf_counter() - t0
    t0 = time.perf_counter()
    for q in queries.values():
        qt = bm25s.tokenize([q], stopwords="en", stemmer=stemmer, show_progress=False)
        model.retrieve(qt, k=1000, show_progress=False)
    return {"index_s": t_index, "tokenize_s": t_tok,
            "search_ms": (time.perf_counter() - t0) / len(queries) * 1e3}


def run_rank_bm25(ids, texts, queries, n_queries=10):
    import numpy as np
    from rank_bm25 import BM25Okapi

    R.ensure_project_importable()
    from bright_eval.retrievers.analysis import EnglishAnalyzer

    an = EnglishAnalyzer()
    t0 = time.perf_counter()
    tokens = an.analyze_many(texts)
    t_tok = time.perf_counter() - t0
    model = BM25Okapi(tokens, k1=0.9, b=0.4)
    t_index = time.perf_counter() - t0
    qs = list(queries.values())[:n_queries]
    t0 = time.perf_counter()
    for q in qs:
        s = model.get_scores(an(q))
        top = np.argpartition(-s, 1000)[:1000]
        top[np.argsort(-s[top])]
    return {"index_s": t_index, "tokenize_s": t_tok, "queries_timed": len(qs),
            "search_ms": (time.perf_counter() - t0) / len(qs) * 1e3}


PIPELINES = {
    "ours-analyzer": run_analyzer,
    "ours-bm25": lambda *a: run_ours("bright", *a),
    "ours-bm25-lucene": lambda *a: run_ours("lucene", *a),
    "lucene-pyserini": run_lucene,
    "bright-gensim": run_gensim,
    "bm25s": run_bm25s,
    "rank-bm25": run_rank_bm25,
}


def worker(name: str, docs: int, n_queries: int) -> None:
    with TreeMemory() as mem:
        ids, texts, grown = corpus_of(docs, stream=name.startswith("ours-bm25"))
        queries = R.load_queries(max_queries=n_queries)
        out = PIPELINES[name](ids, texts, queries)
    out.update(_usage(), tree_peak_pss_gb=mem.peak_gb, docs=len(ids), queries=len(queries), grown=grown)
    print("RESULT " + json.dumps(out), flush=True)


def spawn(name: str, docs: int, n_queries: int, timeout: int = 900) -> dict:
    cmd = [sys.executable, __file__, "--worker", name, "--docs", str(docs), "--queries", str(n_queries)]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
    if p.returncode or not lines:
        print(f"  {name} failed:\n{p.stderr[-2000:]}", file=sys.stderr)
        return {"error": p.stderr[-500:]}
    res = json.loads(lines[-1][7:])
    res["wall_s"] = time.perf_counter() - t0
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--docs", type=int, default=60_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--scaling", default="10000,30000,100000,400000")
    ap.add_argument("--only", default="", help="comma-separated pipeline names")
    ap.add_argument("--worker", default="")
    ap.add_argument("--out", default=str(R.OUT / "bm25_speed.json"))
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.docs, args.queries)

    names = [n for n in PIPELINES if not args.only or n in args.only.split(",")]
    sizes = [int(s) for s in args.scaling.split(",") if s]
    base = base_size()
    for n in sorted({args.docs, *sizes}):
        if n > base:
            grown_file(n)  # here, so that growing the corpus is not in a worker's peak RSS
    report = {"docs": args.docs, "queries": args.queries, "pipelines": {}, "scaling": {}}
    print(f"{'pipeline':20s} {'index s':>9s} {'search ms/q':>12s} {'peak RSS GB':>12s} "
          f"{'tree PSS GB':>12s} {'CPU s':>7s} {'load':>5s}")
    for name in names:
        res = spawn(name, args.docs, args.queries)
        report["pipelines"][name] = res
        if "error" not in res:
            print(f"{name:20s} {res['index_s']:9.1f} {res.get('search_ms', float('nan')):12.1f} "
                  f"{res['peak_rss_gb']:12.2f} {res['tree_peak_pss_gb']:12.2f} "
                  f"{res['cpu_s']:7.1f} {res['load_avg_1min']:5.1f}"
                  + (f"   (tokenize {res['tokenize_s']:.1f}s)" if "tokenize_s" in res else "")
                  + (f"   (search CPU {res['search_cpu_ms']:.2f} ms/q)" if "search_cpu_ms" in res else "")
                  + (f"   (2 worker processes {res['two_processes_s']:.1f}s; pure Python {res['pure_python_s']:.1f}s;"
                     f" {res['words']:,} words)" if "two_processes_s" in res else ""), flush=True)

    if sizes:
        print(f"\nscaling, ours (bm25), {min(100, args.queries)} queries:")
        print(f"{'docs':>9s} {'index s':>9s} {'search ms/q':>12s} {'peak RSS GB':>12s} {'tree PSS GB':>12s} {'load':>5s}")
    for n in sizes:
        res = spawn("ours-bm25", n, min(100, args.queries), timeout=1800)
        report["scaling"][n] = res
        if "error" not in res:
            print(f"{n:9,d} {res['index_s']:9.1f} {res['search_ms']:12.1f} "
                  f"{res['peak_rss_gb']:12.2f} {res['tree_peak_pss_gb']:12.2f} "
                  f"{res['load_avg_1min']:5.1f}"
                  + ("   (grown by re-cutting the corpus)" if res["grown"] else ""), flush=True)
    ok = {n: r for n, r in report["scaling"].items() if "error" not in r}
    if len(ok) >= 2:
        # Index time and search time per query are both close to linear in the number of
        # documents for long queries (they touch most posting lists): fit through the largest.
        big = max(ok)
        per_doc_index = ok[big]["index_s"] / big
        per_doc_search = ok[big]["search_ms"] / big
        total_docs = sum(BRIGHT_DOCS.values())
        idx = per_doc_index * total_docs
        search = sum(per_doc_search * BRIGHT_DOCS[t] * BRIGHT_QUERIES[t] for t in BRIGHT_DOCS) / 1e3
        report["projection"] = {"docs": total_docs, "index_s": idx, "search_s": search}
        print(f"\nprojected full BRIGHT (12 tasks, {total_docs:,} docs, 1,384 queries, docs of "
              f"~300 words): index {idx / 60:.1f} min, search {search:.0f} s "
              f"(per task, from the {big:,}-doc point)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
