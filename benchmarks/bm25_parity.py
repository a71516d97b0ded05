"""Parity of our BM25 with the two reference pipelines, on a real corpus.

* tokens: EnglishAnalyzer vs Pyserini's Analyzer(get_lucene_analyzer()) (Lucene 9.9.1, JNI)
* ``bm25`` vs BRIGHT's pipeline: Pyserini tokens -> gensim LuceneBM25Model(k1=0.9, b=0.4) on
  documents and query -> SparseMatrixSimilarity dot product -> stable sort
* ``bm25-lucene`` vs Pyserini's LuceneSearcher (-bm25 k1 0.9 b 0.4) on an index built by
  Anserini's IndexCollection
* ``engine only``: both of ours again, fed the reference tokens, so that any gap left is the
  scoring's and not the analyzer's

Runs in the reference venv (bash benchmarks/reference_env.sh):

    /tmp/refvenv/bin/python benchmarks/bm25_parity.py [--max-docs 60000] [--max-queries 0]

Writes benchmarks/out/bm25_parity.json.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _reference as R  # noqa: E402

R.ensure_project_importable()
from bright_eval.data import Corpus  # noqa: E402
from bright_eval.retrievers.analysis import EnglishAnalyzer  # noqa: E402
from bright_eval.retrievers.bm25 import BM25Retriever  # noqa: E402


def token_agreement(ours: list[list[str]], ref: list[list[str]], labels: list[str], show: int = 5):
    same = [a == b for a, b in zip(ours, ref)]
    examples = []
    for ok, a, b, lab in zip(same, ours, ref, labels):
        if not ok and len(examples) < show:
            i = next((j for j, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            examples.append({"id": lab, "at": i, "ours": a[max(0, i - 3):i + 4], "lucene": b[max(0, i - 3):i + 4]})
    return sum(same) / max(1, len(same)), examples


def gensim_bright(doc_tokens, query_tokens: dict[str, list[str]], doc_ids, k=1000):
    """BRIGHT's retrieval_bm25, minus the analyzer (tokens are given)."""
    from gensim.corpora import Dictionary
    from gensim.models import LuceneBM25Model
    from gensim.similarities import SparseMatrixSimilarity

    dictionary = Dictionary(doc_tokens)
    model = LuceneBM25Model(dictionary=dictionary, k1=0.9, b=0.4)
    bm25_corpus = model[list(map(dictionary.doc2bow, doc_tokens))]
    index = SparseMatrixSimilarity(bm25_corpus, num_docs=len(doc_tokens), num_terms=len(dictionary),
                                   normalize_queries=False, normalize_documents=False)
    run = {}
    for qid, toks in query_tokens.items():
        sims = index[model[dictionary.doc2bow(toks)]].tolist()
        ranked = sorted(zip(doc_ids, sims), key=lambda x: x[1], reverse=True)[:k]
        run[qid] = dict(ranked)
    return run


def anserini_index(ids, texts, folder: Path, threads: int = 2) -> float:
    """Anserini's IndexCollection on a JsonCollection split in `threads` files; returns seconds."""
    src = folder / "collection"
    src.mkdir(parents=True, exist_ok=True)
    files = [open(src / f"part{i}.jsonl", "w") for i in range(threads)]
    for n, (i, t) in enumerate(zip(ids, texts)):
        files[n * threads // len(ids)].write(json.dumps({"id": i, "contents": t}) + "\n")
    for f in files:
        f.close()
    cmd = [R.java_bin(), "-Xmx8g", "-cp", R.anserini_jar(), "io.anserini.index.IndexCollection",
           "-collection", "JsonCollection", "-input", str(src), "-index", str(folder / "index"),
           "-generator", "DefaultLuceneDocumentGenerator", "-threads", str(threads)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def lucene_search(index_dir: Path, queries: dict[str, str], k=1000, threads=2):
    R.pyserini()
    from pyserini.search.lucene import LuceneSearcher

    searcher = LuceneSearcher(str(index_dir))
    searcher.set_bm25(0.9, 0.4)
    qids = list(queries)
    hits = searcher.batch_search([queries[q] for q in qids], qids, k=k, threads=threads)
    return {q: {h.docid: h.score for h in hits[q]} for q in qids}


def _same_up_to_ties(ours: list[str], ref: list[str], ref_scores: dict[str, float]) -> bool:
    """Same ranking once documents with equal reference scores may come in either order
    (Lucene breaks ties by id string, BRIGHT and we by corpus order)."""
    if ours == ref:
        return True
    if set(ours) != set(ref):
        return False
    key = {d: round(ref_scores[d], 5) for d in ref}
    return [key[d] for d in ours] == [key[d] for d in ref]


def _ties_sorted_by_id(ref: list[str], ref_scores: dict[str, float]) -> bool:
    """Within each group of equal reference scores, are the ids in ascending order?"""
    groups: dict[float, list[str]] = {}
    for d in ref:
        groups.setdefault(round(ref_scores[d], 5), []).append(d)
    return all(g == sorted(g) for g in groups.values())


def compare_runs(ours: dict, ref: dict, qids_tokens_agree: set[str] | None = None) -> dict:
    top10_set = top10_order = top10_ties = tie_only = tie_by_id = 0
    overlap100, rel_errs = [], []
    for qid, ref_hits in ref.items():
        r = list(ref_hits)
        o = list(ours.get(qid, {}))
        top10_set += set(o[:10]) == set(r[:10])
        top10_order += o[:10] == r[:10]
        same_up_to_ties = _same_up_to_ties(o[:10], r[:10], ref_hits)
        top10_ties += same_up_to_ties
        if same_up_to_ties and o[:10] != r[:10]:
            tie_only += 1
            tie_by_id += _ties_sorted_by_id(r[:10], ref_hits)
        overlap100.append(len(set(o[:100]) & set(r[:100])) / max(1, min(100, len(r))))
        if qids_tokens_agree is None or qid in qids_tokens_agree:
            for d in r[:100]:
                if d in ours[qid] and ref_hits[d] != 0:
                    rel_errs.append(abs(ours[qid][d] - ref_hits[d]) / abs(ref_hits[d]))
    n = max(1, len(ref))
    return {
        "queries": len(ref),
        "top10_identical_set": top10_set / n,
        "top10_identical_order": top10_order / n,
        "top10_identical_order_up_to_ties": top10_ties / n,
        "top10_order_differs_only_in_ties": tie_only,
        "of_which_reference_orders_ties_by_id": tie_by_id,
        "top100_overlap": statistics.fmean(overlap100) if overlap100 else 0.0,
        "rel_error_max": max(rel_errs) if rel_errs else None,
        "rel_error_median": statistics.median(rel_errs) if rel_errs else None,
        "scores_compared": len(rel_errs),
    }


def ours_run(flavour: str, ids, texts, queries, analyzer):
    r = BM25Retriever(flavour=flavour, k1=0.9, b=0.4, analyzer=analyzer)
    t0 = time.perf_counter()
    r.index(Corpus(ids, texts, origin="bm25_parity"))
    t1 = time.perf_counter()
    run = r.search(queries, k=1000)
    return run, t1 - t0, time.perf_counter() - t1


class _Given:
    """An analyzer that returns precomputed tokens (the reference's) for known texts."""

    fingerprint = "given-tokens"

    def __init__(self, table: dict[str, list[str]]):
        self.table = table

    def __call__(self, text: str) -> list[str]:
        return self.table[text]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpus", default=None)
    ap.add_argument("--queries", default=None)
    ap.add_argument("--max-docs", type=int, default=60_000)
    ap.add_argument("--max-queries", type=int, default=0, help="0 = all")
    ap.add_argument("--out", default=str(R.OUT / "bm25_parity.json"))
    args = ap.parse_args(argv)

    ids, texts = R.load_corpus(args.corpus, args.max_docs)
    queries = R.load_queries(args.queries, args.max_queries)
    print(f"corpus: {len(ids):,} passages; queries: {len(queries):,}", flush=True)
    report: dict = {"corpus_docs": len(ids), "queries": len(queries)}

    # -- tokens ----------------------------------------------------------------------------
    lucene = R.lucene_analyzer()
    t0 = time.perf_counter()
    ref_docs = [lucene(t) for t in texts]
    ref_q = {q: lucene(t) for q, t in queries.items()}
    t_ref = time.perf_counter() - t0
    an = EnglishAnalyzer()
    t0 = time.perf_counter()
    our_docs = an.analyze_many(texts)
    our_q = {q: an(t) for q, t in queries.items()}
    t_ours = time.perf_counter() - t0
    doc_agree, doc_ex = token_agreement(our_docs, ref_docs, ids)
    # The indexer's path: term ids from the span table (compiled when built), back to terms.
    term_ids = EnglishAnalyzer().term_ids()
    flat, lengths = term_ids.many(texts)
    it = iter([term_ids.terms[i - 1] for i in flat])
    id_docs = [[next(it) for _ in range(n)] for n in lengths]
    id_agree, id_ex = token_agreement(id_docs, ref_docs, ids)
    del flat, it, id_docs
    q_agree, q_ex = token_agreement(list(our_q.values()), list(ref_q.values()), list(queries))
    agree_q = {q for q in queries if our_q[q] == ref_q[q]}
    report["tokens"] = {"docs_identical": doc_agree, "queries_identical": q_agree,
                        "docs_identical_indexer_term_ids": id_agree, "term_ids_compiled": term_ids.compiled,
                        "tokens_total": sum(map(len, ref_docs)),
                        "lucene_jni_s": t_ref, "ours_s": t_ours,
                        "doc_examples": doc_ex, "query_examples": q_ex}
    print(f"token lists identical: docs {doc_agree:.4%}, queries {q_agree:.4%} "
          f"(ours {t_ours:.1f}s, Lucene via JNI {t_ref:.1f}s); indexer's term ids "
          f"({'compiled' if term_ids.compiled else 'pure Python'}): docs {id_agree:.4%}", flush=True)
    for e in doc_ex + q_ex + id_ex:
        print("  differs:", e)

    # -- bm25 (BRIGHT) ---------------------------------------------------------------------
    t0 = time.perf_counter()
    ref_bright = gensim_bright(ref_docs, ref_q, ids)
    print(f"gensim reference: {time.perf_counter() - t0:.1f}s", flush=True)
    run, t_idx, t_search = ours_run("bright", ids, texts, queries, EnglishAnalyzer())
    report["bm25"] = compare_runs(run, ref_bright, agree_q)
    report["bm25"].update(index_s=t_idx, search_s=t_search)
    given = _Given({**dict(zip(texts, ref_docs)), **{queries[q]: ref_q[q] for q in queries}})
    run_g, _, _ = ours_run("bright", ids, texts, queries, given)
    report["bm25_engine_only"] = compare_runs(run_g, ref_bright)

    # -- bm25-lucene -----------------------------------------------------------------------
    with tempfile.TemporaryDirectory(prefix="anserini-") as tmp:
        t_index = anserini_index(ids, texts, Path(tmp))
        t0 = time.perf_counter()
        ref_lucene = lucene_search(Path(tmp) / "index", queries)
        t_lsearch = time.perf_counter() - t0
        shutil.rmtree(Path(tmp) / "collection", ignore_errors=True)
    print(f"Anserini index {t_index:.1f}s, LuceneSearcher {t_lsearch:.1f}s", flush=True)
    run, t_idx, t_search = ours_run("lucene", ids, texts, queries, EnglishAnalyzer())
    report["bm25_lucene"] = compare_runs(run, ref_lucene, agree_q)
    report["bm25_lucene"].update(index_s=t_idx, search_s=t_search)
    run_g, _, _ = ours_run("lucene", ids, texts, queries, given)
    report["bm25_lucene_engine_only"] = compare_runs(run_g, ref_lucene)

    # -- report ----------------------------------------------------------------------------
    rows = [("bm25 vs BRIGHT (gensim)", report["bm25"]),
            ("  engine only (Lucene tokens)", report["bm25_engine_only"]),
            ("bm25-lucene vs LuceneSearcher", report["bm25_lucene"]),
            ("  engine only (Lucene tokens)", report["bm25_lucene_engine_only"])]
    print(f"\n{'':32s} {'top10 set':>9s} {'order':>7s} {'~ties':>7s} {'top100':>7s} "
          f"{'rel.err max':>11s} {'median':>9s}")
    for name, m in rows:
        fmt = (lambda v: f"{v:.1e}" if v is not None else "n/a")
        print(f"{name:32s} {m['top10_identical_set']:9.2%} {m['top10_identical_order']:7.2%} "
              f"{m['top10_identical_order_up_to_ties']:7.2%} {m['top100_overlap']:7.2%} "
              f"{fmt(m['rel_error_max']):>11s} {fmt(m['rel_error_median']):>9s}")
    for name, m in rows:
        if m["top10_order_differs_only_in_ties"]:
            print(f"{name.strip()}: {m['top10_order_differs_only_in_ties']} queries differ only in the "
                  f"order of tied documents; in {m['of_which_reference_orders_ties_by_id']} of them "
                  f"the reference orders ties by ascending doc id")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"\n-> {args.out}")


if __name__ == "__main__":
    main()
