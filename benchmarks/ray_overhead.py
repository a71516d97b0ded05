"""What `--executor ray` costs and buys on one machine (a benchmark, not a test).

1. overhead: the proxy matrix (3 rewriters incl. SmolLM2 x 3 retrievers incl. all-MiniLM x 2 tasks)
   through the CLI with `--executor local` and with `--executor ray` (Ray started on this machine),
   each from an empty cache: wall time, and peak memory as the summed PSS of the CLI process and
   every process under it (Ray's GCS, raylet and workers included).
2. scaling: dense document encoding (all-MiniLM-L6-v2, real text from BRIGHT's examples and
   reasoning cut into ~100-word passages) as Ray encode tasks over the same shards, with 1 and with
   2 one-core workers.

    .venv/bin/python benchmarks/ray_overhead.py --data-dir ../shared/bright --queries 5 --passages 20000 \
        --out results/benchmarks/ray_overhead.json

Prints one line per figure and `uptime` before each part: on a shared 2-core machine the load
from other work changes every figure.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TASKS = ("biology", "economics")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def _pss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def run_measured(cmd: list[str], env: dict) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall seconds and peak summed PSS (MiB) of `cmd` and all its descendants (sampled every 0.5 s)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = [0.0]

    def watch():
        while proc.poll() is None:
            peak[0] = max(peak[0], _pss_mib(_tree(proc.pid)))
            time.sleep(0.5)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    t.join()
    return wall, peak[0], subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def overhead(args, work: Path) -> dict:
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import _Head

    from bright_eval.proxy import build_proxy

    data = work / "proxy"
    build_proxy(_Head(Path(args.data_dir), args.queries), data, tasks=TASKS)
    rewriters = f"original,bright:TongSearch-QR-1.5B,smollm2-135m-instruct(max_new_tokens={args.max_new_tokens})"
    out = {}
    env = {**os.environ, "BRIGHT_EVAL_NO_PROGRESS": "1"}
    for executor in args.order.split(","):
        up = uptime()
        print(up, flush=True)
        cmd = [sys.executable, "-c", "from bright_eval.cli import main; main()", "matrix", "--rewriters", rewriters,
               "--retrievers", "bm25,bm25-lucene,all-minilm-l6-v2", "--tasks", ",".join(TASKS), "--top-k", "100",
               "--data-dir", str(data), "--results-dir", str(work / f"runs-{executor}"), "--cache-dir", str(work / f"cache-{executor}"),
               "--format", "json", "--executor", executor]
        wall, peak, res = run_measured(cmd, env)
        if res.returncode != 0:
            raise SystemExit(f"{executor} failed:\n{res.stderr[-3000:]}")
        summary = json.loads(res.stdout)["summary"]
        out[executor] = {"wall_s": round(wall, 1), "peak_pss_mib": round(peak), "cells": summary, "uptime_before": up}
        print(f"proxy matrix, --executor {executor}: {wall:.1f} s wall, peak PSS {peak:.0f} MiB, {summary}", flush=True)
    return out


def passages(data_dir: Path, n: int, words: int = 100) -> list[str]:
    """Real text: BRIGHT's queries, answers and reasoning, cut into `words`-word passages, cycled to n."""
    from bright_eval.data import LocalSource
    from bright_eval.tasks import TASKS as ALL

    src, chunks = LocalSource(data_dir), []
    for task in ALL:
        try:
            exs = src.examples(task)
        except Exception:  # noqa: BLE001 - a task missing from this folder
            continue
        for e in exs:
            for text in (e.query, e.gold_answer, e.reasoning):
                toks = text.split()
                chunks += [" ".join(toks[i:i + words]) for i in range(0, len(toks), words) if len(toks[i:i + words]) > 20]
    return [f"[{i // len(chunks)}] {chunks[i % len(chunks)]}" for i in range(n)]


def scaling(args, work: Path) -> dict:
    import ray

    from bright_eval.cache import ArtifactCache
    from bright_eval.data import LocalSource
    from bright_eval.executors import ray_workers as W
    from bright_eval.plan import ComponentRef, Request, TaskData
    from bright_eval.retrievers import RETRIEVERS

    data = work / "enc"
    (data / "biology").mkdir(parents=True)
    texts = passages(Path(args.data_dir), args.passages)
    with gzip.open(data / "biology" / "documents.jsonl.gz", "wt", encoding="utf-8") as fh:
        for i, t in enumerate(texts):
            fh.write(json.dumps({"id": f"p{i}", "content": t}) + "\n")
    (data / "biology" / "examples.jsonl").write_text("")
    source = LocalSource(data)
    ref = ComponentRef("all-minilm-l6-v2", {"shard_size": args.shard_size})
    task = TaskData("biology", [], "", source.documents_fingerprint("biology"))
    ray.init(num_cpus=2, object_store_memory=100 * 1024 * 1024, include_dashboard=False, log_to_driver=False)
    encode = ray.remote(W.encode_task)
    out = {}
    try:
        for workers in (1, 2):
            cache = work / f"enc-cache-{workers}"
            ctx = W.Context(Request([ComponentRef("original")], [ref], ["biology"]), source, str(cache), True)
            # Warm-up: every worker process imports torch and loads the model once, outside the timing.
            warm = ctx.__class__(ctx.request, ctx.source, str(work / f"warm-{workers}"), True)
            ray.get([encode.options(num_cpus=1).remote(warm, ComponentRef("all-minilm-l6-v2", {"shard_size": 8}),
                                                         task, i, 10 ** 6) for i in range(workers)])
            up = uptime()
            print(up, flush=True)
            t0 = time.perf_counter()
            res = ray.get([encode.options(num_cpus=1).remote(ctx, ref, task, i, workers) for i in range(workers)])
            wall = time.perf_counter() - t0
            errors = [r.error for r in res if r.error]
            if errors:
                raise SystemExit(errors[0])
            bound = RETRIEVERS.create("all-minilm-l6-v2", {"shard_size": args.shard_size}, cache=ArtifactCache(cache)).for_task("biology")
            shards = len(list(bound.partial_dir(task.documents_fp).glob("*.npy")))
            out[f"{workers}_workers"] = {"wall_s": round(wall, 1), "docs_per_s": round(len(texts) / wall, 1), "shards": shards, "uptime_before": up}
            print(f"encode {len(texts)} passages, {workers} one-core worker(s): {wall:.1f} s, {len(texts) / wall:.1f} docs/s "
                  f"({shards} shards of {args.shard_size})", flush=True)
    finally:
        ray.shutdown()
    out["speedup"] = round(out["1_workers"]["wall_s"] / out["2_workers"]["wall_s"], 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(REPO.parent / "shared" / "bright"))
    ap.add_argument("--queries", type=int, default=5, help="answered questions per proxy task")
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--passages", type=int, default=20000)
    ap.add_argument("--shard-size", type=int, default=512)
    ap.add_argument("--parts", default="overhead,scaling")
    ap.add_argument("--order", default="local,ray", help="executors in run order; run both orders on a shared machine")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    report = {"uptime_start": uptime(), "cpus": os.cpu_count(), "args": vars(args)}
    with tempfile.TemporaryDirectory() as tmp:
        if "overhead" in args.parts:
            report["overhead"] = overhead(args, Path(tmp))
        if "scaling" in args.parts:
            report["scaling"] = scaling(args, Path(tmp))
    report["uptime_end"] = uptime()
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
