"""Whole BRIGHT through the CLI, timed as a user runs it: cold (empty cache), then warm (analysis
cached, a new rewriter).

Builds a local data folder with BRIGHT's twelve tasks -- their real examples and TongSearch-QR
reasoning from shared/bright, and a documents.jsonl of each task's corpus size made of real text
(make_corpus.py's passages, then re-cuts of the same text at shifted offsets; aops and
theoremqa_questions share one corpus file, as in BRIGHT) -- then runs

    bright-eval run --rewriter bright:TongSearch-QR-7B --retriever bm25 --tasks all   (cold)
    bright-eval run --rewriter bright:TongSearch-QR-1.5B --retriever bm25 --tasks all (warm)

and prints wall time, peak memory (largest single process, and the sampled PSS of the whole
process tree) and each task's recorded timings, BM25's index stage split into "analyse" (or, warm,
loading the cached counts) and "index" (weighting); "other" is wall time no stage recorded.

    python benchmarks/make_corpus.py                  # once: benchmarks/data/corpus.jsonl
    python benchmarks/bright_scale.py --scale 0.1     # 10% of every corpus (133k passages)
    python benchmarks/bright_scale.py                 # full size (1.33M passages, ~2.7 GB on disk)

Each task's gold and excluded ids name its first passages, so exclusions work as in BRIGHT; the
text is not BRIGHT's, so the nDCG figures mean nothing here, only the times do. Writes
benchmarks/out/bright_scale_<scale>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bm25_speed import BRIGHT_DOCS, TreeMemory  # noqa: E402

SHARED = Path(os.environ.get("BRIGHT_SHARED", "/work/shared/bright"))
SHARED_CORPUS = {"theoremqa_questions": "aops"}  # BRIGHT's tasks that share a document set
WORDS = 300


def passages(base: Path):
    """make_corpus.py's passages, then endless re-cuts of the same text into WORDS-word windows
    starting a few words later each round (new passages, same vocabulary)."""
    with base.open() as f:
        texts = [json.loads(line)["content"] for line in f]
    yield from texts
    r = 0
    while True:
        r += 1
        skip, buf = 1 + (37 * r) % (WORDS - 1), []
        for t in texts:
            words = t.split()
            if skip:
                drop = min(skip, len(words))
                words, skip = words[drop:], skip - drop
            buf.extend(words)
            while len(buf) >= WORDS:
                yield " ".join(buf[:WORDS])
                del buf[:WORDS]


def _named_ids(task: str) -> list[str]:
    """Gold and excluded ids of the task (and of a task sharing its corpus), in first-seen order."""
    seen: dict[str, None] = {}
    for t in [task] + [k for k, v in SHARED_CORPUS.items() if v == task]:
        for line in (SHARED / t / "examples.jsonl").open():
            ex = json.loads(line)
            for d in ex.get("gold_ids", []) + ex.get("excluded_ids", []):
                seen.setdefault(d, None)
    return list(seen)


def build(folder: Path, scale: float, base: Path) -> dict[str, int]:
    stream = passages(base)
    sizes = {}
    for task, full in BRIGHT_DOCS.items():
        tdir = folder / task
        tdir.mkdir(parents=True, exist_ok=True)
        for name in ("examples.jsonl", "qrels.txt"):
            if (SHARED / task / name).exists() and not (tdir / name).exists():
                os.symlink(SHARED / task / name, tdir / name)
        if not (tdir / "reasoning").exists():
            os.symlink(SHARED / task / "reasoning", tdir / "reasoning")
        if task in SHARED_CORPUS:
            continue
        n = max(1, round(full * scale))
        named = _named_ids(task)
        docs = tdir / "documents.jsonl"
        if not docs.exists():
            tmp = docs.with_suffix(".tmp")
            with tmp.open("w") as f:
                for i in range(n):
                    doc_id = named[i] if i < len(named) else f"{task}/{i}"
                    f.write(json.dumps({"id": doc_id, "content": next(stream)}) + "\n")
            tmp.replace(docs)
        sizes[task] = n
    for task, owner in SHARED_CORPUS.items():
        link = folder / task / "documents.jsonl"
        if not link.exists():
            os.symlink(folder / owner / "documents.jsonl", link)
        sizes[task] = sizes[owner]
    return sizes


def run_cli(data: Path, cache: Path, results: Path, rewriter: str, retriever: str) -> dict:
    exe = Path(sys.executable).with_name("bright-eval")
    cmd = [str(exe) if exe.exists() else "bright-eval", "run", "--rewriter", rewriter, "--retriever", retriever,
           "--tasks", "all", "--data-dir", str(data), "--cache-dir", str(cache), "--results-dir", str(results),
           "--format", "json"]
    # the cache folder through the environment too: file hashes and document ids live in the default cache
    env = {**os.environ, "BRIGHT_EVAL_NO_PROGRESS": "1", "BRIGHT_EVAL_CACHE": str(cache)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with TreeMemory(interval=0.1) as mem:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr[-3000:]}")
    tasks = {}
    for path in sorted(results.rglob("*.json")):
        rec = json.loads(path.read_text())
        if isinstance(rec, dict) and "timings" in rec and "task" in rec:
            timings = dict(rec["timings"])
            if "weigh_s" in timings:  # bm25: the index stage as analyse (or load the cached counts) + weigh
                timings["analyse_s"] = timings.pop("analyse_s", 0.0) + timings.pop("load_counts_s", 0.0)
                timings["index_s"] = timings.pop("weigh_s")
            tasks[rec["task"]] = {"timings": timings, "n_docs": rec["data"]["n_docs"]}
    return {"wall_s": wall, "tree_peak_pss_gb": mem.peak_gb, "max_process_rss_gb": after.ru_maxrss / 1e6,
            "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "load_avg_1min": os.getloadavg()[0], "tasks": tasks}


def show(label: str, res: dict) -> None:
    print(f"\n{label}: wall {res['wall_s']:.1f} s, CPU {res['cpu_s']:.1f} s, peak PSS (process tree) "
          f"{res['tree_peak_pss_gb']:.2f} GB, largest process {res['max_process_rss_gb']:.2f} GB, "
          f"load {res['load_avg_1min']:.1f}")
    keys = sorted({k for t in res["tasks"].values() for k in t["timings"]})
    print(f"  {'task':22s} {'docs':>9s} " + " ".join(f"{k.removesuffix('_s'):>8s}" for k in keys) + f" {'total':>8s}")
    recorded = 0.0
    for task, t in res["tasks"].items():
        total = sum(t["timings"].values())
        recorded += total
        print(f"  {task:22s} {t['n_docs']:9,d} " + " ".join(f"{t['timings'].get(k, 0):8.2f}" for k in keys)
              + f" {total:8.2f}")
    print(f"  recorded stages {recorded:.1f} s; other (start-up, reading, fingerprinting, writing not timed) "
          f"{res['wall_s'] - recorded:.1f} s")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of each BRIGHT corpus size")
    ap.add_argument("--data", default="", help="data folder (default benchmarks/data/bright_scale_<scale>)")
    ap.add_argument("--base", default=str(HERE / "data" / "corpus.jsonl"), help="make_corpus.py's output")
    ap.add_argument("--rewriter", default="bright:TongSearch-QR-7B")
    ap.add_argument("--warm-rewriter", default="bright:TongSearch-QR-1.5B")
    ap.add_argument("--retriever", default="bm25")
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)

    data = Path(args.data or HERE / "data" / f"bright_scale_{args.scale:g}")
    t0 = time.perf_counter()
    sizes = build(data, args.scale, Path(args.base))
    print(f"data folder {data}: {sum(v for k, v in sizes.items() if k not in SHARED_CORPUS):,} passages "
          f"({time.perf_counter() - t0:.0f} s to build or check)")
    work = Path(tempfile.mkdtemp(prefix="bright-scale-"))
    try:
        cold = run_cli(data, work / "cache", work / "results-cold", args.rewriter, args.retriever)
        show(f"cold ({args.rewriter}, empty cache)", cold)
        warm = run_cli(data, work / "cache", work / "results-warm", args.warm_rewriter, args.retriever)
        show(f"warm ({args.warm_rewriter}, analysis cached)", warm)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = Path(args.out or HERE / "out" / f"bright_scale_{args.scale:g}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"scale": args.scale, "docs": sizes, "cold": cold, "warm": warm}, indent=2))
    print(f"-> {out}")


if __name__ == "__main__":
    main()
