"""Dense retrieval speed and memory, side by side in one run: document encoding docs/s of
all-MiniLM-L6-v2 on real BRIGHT text for every backend (torch, ONNX Runtime, OpenVINO; fp32, bf16, int8)
with the fp32 roofline (the model's FLOPs per document against torch's own fp32 matmul throughput),
seconds per query for a cross-encoder and `embed:` reranking at depths 10 and 100 per backend with
the same fp32 roofline for reranking (the pairs' FLOPs per query), and exact blocked top-k search
over a BRIGHT-sized (400k) memory-mapped embedding matrix.

    .venv/bin/python benchmarks/dense_speed.py --data-dir ../shared/bright --docs 64 --rounds 2
    .venv/bin/python benchmarks/dense_speed.py --docs 0 --rerank-depths '' --search-docs 400000

The machine may be shared: the load average is printed at the start and after each part, variants
run interleaved (each once per round) and the best round of each is kept, so the ratios compare
like with like. Prints one line per figure. Anonymous memory (RssAnon, sampled every 20 ms) shows that search holds
query x block scores, not the corpus: the memory-mapped matrix is file-backed and not counted there.
"""

from __future__ import annotations

import argparse
import logging
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


def real_texts(data_dir: Path, n: int) -> list[str]:
    from bright_eval.data import LocalSource
    from bright_eval.proxy import SE_TASKS

    src = LocalSource(data_dir)
    return [e.gold_answer for t in SE_TASKS for e in src.examples(t) if e.gold_answer.strip()][:n]


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


# (label, backend, quantize): every offered combination of the `backend` and `quantize` options.
VARIANTS = [("torch fp32", "torch", "none"), ("onnx fp32", "onnx", "none"), ("openvino fp32", "openvino", "none"),
            ("openvino bf16", "openvino", "bf16"), ("openvino int8", "openvino", "int8")]


def _encoder(backend: str, quantize: str, cache, task: str = "biology"):
    from bright_eval.retrievers import RETRIEVERS

    return RETRIEVERS.create("all-minilm-l6-v2", {"backend": backend, "quantize": quantize}, cache=cache).for_task(task)


def gemm_gflops(m: int, k: int, n: int, dtype: str, repeats: int = 10) -> float:
    """torch's matmul throughput at one of the encoder's GEMM shapes: the machine's ceiling for that precision."""
    import torch

    a, b = torch.randn(m, k).to(getattr(torch, dtype)), torch.randn(k, n).to(getattr(torch, dtype))
    a @ b
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * m * k * n * repeats / (time.perf_counter() - t0) / 1e9


def encoder_flops(config, lengths: list[int]) -> float:
    """FLOPs of a BERT-style encoder over sequences of `lengths` tokens. Per token and layer: Q, K, V and output
    projections (4 h^2), the feed-forward (2 h ffn), attention scores and mix (2 seq h); x2 for multiply-add."""
    h, ffn, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    return float(sum(2 * layers * n * (4 * h * h + 2 * h * ffn + 2 * n * h) for n in lengths))


_PEAK: dict[str, float] = {}


def matmul_peak(config, dtype: str = "float32") -> float:
    """torch's best matmul GFLOP/s over the encoder's GEMM shapes (fused QKV, attention output, feed-forward up and
    down) at 2,048 and 8,192 token rows, best of three: the ceiling for that precision on this machine."""
    if dtype not in _PEAK:
        h, ffn = config.hidden_size, config.intermediate_size
        shapes = [(m, k, n) for m in (2048, 8192) for k, n in ((h, 3 * h), (h, h), (h, ffn), (ffn, h))]
        _PEAK[dtype] = max(gemm_gflops(m, k, n, dtype) for m, k, n in shapes for _ in range(3))
    return _PEAK[dtype]


def roofline(encoder, texts: list[str], torch_docs_s: float) -> None:
    """What fp32 can reach at all: the model's FLOPs per document against torch's best fp32 GEMM throughput."""
    model = encoder.model
    cfg = model[0].model.config
    lengths = [len(ids) for ids in model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"]]
    flops_doc = encoder_flops(cfg, lengths) / len(lengths)
    peak, bf16 = matmul_peak(cfg), matmul_peak(cfg, "bfloat16")
    ceiling = peak * 1e9 / flops_doc
    print(f"  roofline: {flops_doc / 1e9:.1f} GFLOP per document ({np.mean(lengths):.0f} tokens avg); torch matmul "
          f"{peak:.0f} GFLOP/s fp32, {bf16:.0f} bf16 at best over the encoder's shapes: fp32 ceiling {ceiling:.1f} docs/s "
          f"= {ceiling / torch_docs_s:.2f}x torch fp32 (torch reaches {torch_docs_s / ceiling:.0%} of it)")


def rerank_ceiling(rerankers: dict, queries: dict, runs: dict, corpus, depth: int) -> dict[str, float]:
    """Seconds per query that fp32 cannot beat at `depth`: the pairs' (cross-encoder) or the documents' and
    query's (`embed:`) encoder FLOPs at this machine's fp32 matmul peak."""
    from bright_eval.rerankers.base import DocTexts

    ce = rerankers[("ce", "torch fp32")]._load()
    st = rerankers[("embed", "torch fp32")].dense.model
    text = DocTexts(corpus)
    ce_lengths, unique_docs = [], set()
    for qid, query in queries.items():
        docs = [text(d) for d in runs[depth][qid]]
        ce_lengths += [len(ids) for ids in ce.tokenizer([query] * len(docs), docs, truncation=True, max_length=ce.max_seq_length)["input_ids"]]
        unique_docs.update(runs[depth][qid])
    # `embed:` encodes each document once per corpus, whichever query's head it is in, and each query once.
    emb_texts = [text(d) for d in sorted(unique_docs)] + list(queries.values())
    emb_lengths = [len(ids) for ids in st.tokenizer(emb_texts, truncation=True, max_length=st.max_seq_length)["input_ids"]]
    peak = matmul_peak(st[0].model.config) * 1e9
    return {"ce": encoder_flops(ce.model.config, ce_lengths) / peak / len(queries),
            "embed": encoder_flops(st[0].model.config, emb_lengths) / peak / len(queries)}


# torch at the GPU's batch (64 texts at 256 tokens), the CPU default before CPUs got their own token budget
# (retrievers/dense.py BATCH_TOKENS): the speed issue 21 started from, run alongside so the gain is measured too.
BEFORE = "torch fp32, batch 64"


def bench_backends(texts: list[str], rounds: int, cache) -> dict[str, float]:
    """docs/s per variant: every variant once per round, in rotating order, so a load change hits all alike."""
    encoders, setup = {}, {}
    rows = VARIANTS + [(BEFORE, "torch", "none")]
    for label, backend, quantize in rows:
        t0 = time.perf_counter()
        encoders[label] = _encoder(backend, quantize, cache)
        encoders[label].batch_size = 64 if label == BEFORE else None
        encoders[label].encode_documents(texts[:2])
        setup[label] = time.perf_counter() - t0
    best: dict[str, float] = {}
    first: dict[str, np.ndarray] = {}
    for rnd in range(rounds):
        order = rows[rnd % len(rows):] + rows[:rnd % len(rows)]
        for label, *_ in order:
            t0 = time.perf_counter()
            emb = encoders[label].encode_documents(texts)
            best[label] = max(best.get(label, 0.0), len(texts) / (time.perf_counter() - t0))
            first.setdefault(label, emb)
    for label in first:
        setup[label + " gap"] = float(np.max(1 - np.sum(first[label] * first["torch fp32"], axis=1)))
    words = sum(len(t.split()) for t in texts) / len(texts)
    from bright_eval.retrievers.dense import auto_batch_size

    print(f"encode: all-minilm-l6-v2, {len(texts)} real BRIGHT answers ({words:.0f} words avg, max_seq_length 256), "
          f"batch {auto_batch_size(256, 'cpu')} (auto on a CPU), torch threads {_threads()}, best of {rounds} rounds")
    for label, *_ in rows:
        print(f"  {label:20s} {best[label]:7.2f} docs/s  {best[label] / best['torch fp32']:5.2f}x torch  "
              f"max 1-cos vs torch {setup[label + ' gap']:.1e}  setup {setup[label]:.1f} s (export, quantisation, compile)")
    roofline(encoders["torch fp32"], texts, best["torch fp32"])
    return best


def ce_folder(out: Path) -> Path:
    """A cross-encoder of ms-marco-MiniLM-L-6-v2's exact shape (BERT, 6 layers, 384 wide, one logit, 512 tokens):
    all-MiniLM-L6-v2's encoder under a random head. Its scores mean nothing; its speed is the real one's."""
    import torch
    import transformers

    from bright_eval.retrievers.dense import resolve_source
    from bright_eval.retrievers.dense_models import BY_NAME

    folder = Path(resolve_source(BY_NAME["all-minilm-l6-v2"])["location"])
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    tok.model_max_length = 512
    enc = transformers.AutoModel.from_pretrained(folder)
    torch.manual_seed(0)
    ce = transformers.BertForSequenceClassification(transformers.BertConfig(**{**enc.config.to_dict(), "num_labels": 1}))
    ce.bert.load_state_dict(enc.state_dict(), strict=False)
    ce.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def bench_rerank(texts: list[str], depths: list[int], n_queries: int, rounds: int, cache, tmp: Path) -> dict:
    """Seconds per query for a cross-encoder and embed:all-minilm-l6-v2, nothing cached, per backend."""
    from bright_eval.data import Corpus
    from bright_eval.rerankers import RERANKERS

    corpus = Corpus([f"d{i}" for i in range(len(texts))], texts, "bench-rerank")
    queries = {f"q{i}": texts[-1 - i][:300] for i in range(n_queries)}  # real text as queries
    runs = {d: {q: {f"d{(i * 7 + j) % len(texts)}": 1.0 / (j + 1) for j in range(d)} for i, q in enumerate(queries)} for d in depths}
    ce_path = ce_folder(tmp / "ce")
    rerankers = {}
    for label, backend, quantize in VARIANTS:
        rerankers[("ce", label)] = RERANKERS.create(f"ce:{ce_path}", {"backend": backend, "quantize": quantize}, cache=cache)
        rerankers[("ce", label)].score([("warm", "up")])
        emb = RERANKERS.create("embed:all-minilm-l6-v2", {"backend": backend, "quantize": quantize}, cache=cache).for_task("biology")
        emb.dense.encode_documents(["warm up"])
        rerankers[("embed", label)] = emb
    best: dict = {}
    for _ in range(rounds):
        for depth in depths:
            for key, rr in rerankers.items():
                if key[0] == "embed":
                    rr._head_vectors = {}  # encode the heads every time: a first rerank of an unencoded corpus
                t0 = time.perf_counter()
                rr.rerank(queries, runs[depth], corpus, depth)
                per_q = (time.perf_counter() - t0) / len(queries)
                best[key + (depth,)] = min(best.get(key + (depth,), float("inf")), per_q)
    print(f"rerank: {n_queries} real queries, heads of real BRIGHT answers, nothing cached, best of {rounds} rounds (s/query)")
    for kind, name in (("ce", "cross-encoder (ms-marco-MiniLM-L-6-v2 shape, 512 tokens)"), ("embed", "embed:all-minilm-l6-v2 (256 tokens)")):
        for depth in depths:
            base = best[(kind, "torch fp32", depth)]
            cells = "  ".join(f"{label} {best[(kind, label, depth)]:6.2f} s ({base / best[(kind, label, depth)]:.2f}x)"
                              for k, label in rerankers if k == kind)
            print(f"  {name} depth {depth}: {cells}")
    depth = max(depths)
    for kind, floor in rerank_ceiling(rerankers, queries, runs, corpus, depth).items():
        best[(kind, "fp32 floor", depth)] = floor
        torch_s = best[(kind, "torch fp32", depth)]
        print(f"  roofline, {kind} depth {depth}: {floor:.2f} s/query at the fp32 matmul peak = {torch_s / floor:.2f}x torch fp32 "
              f"(torch reaches {floor / torch_s:.0%} of it)")
    return best


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
    ap.add_argument("--docs", type=int, default=64, help="real documents each backend encodes per round (0: skip)")
    ap.add_argument("--rounds", type=int, default=2, help="rounds over all variants; the best of each is kept")
    ap.add_argument("--rerank-depths", default="10,100", help="comma-separated rerank depths ('' : skip reranking)")
    ap.add_argument("--rerank-queries", type=int, default=1)
    ap.add_argument("--search-docs", type=int, default=0, help="synthetic corpus size for search (0: skip; 400000 is BRIGHT's largest)")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=1000)
    ap.add_argument("--device", default=os.environ.get("BRIGHT_EVAL_DEVICE", "cpu"))
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.getLogger("bright_eval").setLevel(logging.WARNING)
    from bright_eval.cache import ArtifactCache

    print(f"load average (1/5/15 min) at start: {load()}; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        cache = ArtifactCache(Path(tmp) / "cache")
        if args.docs:
            docs = bench_backends(real_texts(args.data_dir, args.docs), args.rounds, cache)
            fp32, int8 = max(docs["onnx fp32"], docs["openvino fp32"]), docs["openvino int8"]
            print(f"  targets: fp32 >= 1.5x torch: {fp32 / docs['torch fp32']:.2f}x ({fp32 / docs[BEFORE]:.2f}x {BEFORE}); "
                  f"int8 >= 3x torch: {int8 / docs['torch fp32']:.2f}x ({int8 / docs[BEFORE]:.2f}x {BEFORE}); load average now {load()}")
        depths = [int(d) for d in args.rerank_depths.split(",") if d.strip()]
        if depths:
            rr = bench_rerank(real_texts(args.data_dir, max(depths) * 3 + 50), depths, args.rerank_queries, args.rounds, cache, Path(tmp))
            for kind in ("ce", "embed"):
                fp32 = min(rr[(kind, "onnx fp32", max(depths))], rr[(kind, "openvino fp32", max(depths))])
                torch_s = rr[(kind, "torch fp32", max(depths))]
                print(f"  target: {kind} at depth {max(depths)} >= 2x faster at fp32: {torch_s / fp32:.2f}x "
                      f"(fp32 roofline: {torch_s / rr[(kind, 'fp32 floor', max(depths))]:.2f}x)")
            print(f"  load average now {load()}")
    if args.search_docs:
        bench_search(args.search_docs, args.dim, args.queries, args.k, args.device)


if __name__ == "__main__":
    main()
