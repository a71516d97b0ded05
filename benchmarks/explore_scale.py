"""`bright-eval explore` at whole-BRIGHT size: site size and browser load time.

Synthesises a results folder shaped like BRIGHT's: 12 tasks with BRIGHT's query counts (1,384 in all),
10 systems (5 rewriters x BRIGHT's BM25 and Lucene's), per-query metrics and gzipped TREC runs, plus a
data folder with examples (gold and excluded ids, reasoning notes) and documents, so that the site holds
document texts and BM25 term contributions as a real one does. Then builds the site and, when chromium
is installed, measures in headless chromium the time until each page is drawn: the overview, the
largest task's query list, and one query of it. Writes results/benchmarks/explore_scale.json.

    .venv/bin/python benchmarks/explore_scale.py [--run-depth 1000] [--docs 2000] [--out results/benchmarks/explore_scale.json]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

from bright_eval.explore.pages import Options, source_for
from bright_eval.explore.site import build_site
from bright_eval.io import atomic_write_json, atomic_write_text, write_jsonl
from bright_eval.record import ResultRecord
from bright_eval.results import load_results, result_path, write_result
from bright_eval.scoring import METRICS
from bright_eval.trec import format_run

# BRIGHT's queries per task (HF dataset card; 1,384 in all).
QUERIES = {"biology": 103, "earth_science": 116, "economics": 103, "psychology": 101, "robotics": 101, "stackoverflow": 117,
           "sustainable_living": 108, "leetcode": 142, "pony": 112, "aops": 111, "theoremqa_questions": 194, "theoremqa_theorems": 76}
REWRITERS = ["original", "bright:gpt4", "bright:claude-3-opus", "bright:llama3-70b", "tsqr:TongSearch-QR-7B"]
RETRIEVERS = {"bm25": "bright", "bm25-lucene": "lucene"}
WORDS = ("cell energy light protein gene water heat pressure force model graph tree array sort search node rate market price "
         "demand supply brain sleep memory signal robot sensor motor control soil climate carbon plant animal species").split()


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def synthesise(root: Path, docs_per_task: int, run_depth: int, seed: int = 0) -> tuple[Path, Path]:
    rng = random.Random(seed)
    data, results = root / "data", root / "runs"
    for task, n_q in QUERIES.items():
        doc_ids = [f"{task}/doc_{i}.txt" for i in range(docs_per_task)]
        write_jsonl(data / task / "documents.jsonl", ({"id": d, "content": sentence(rng, 250)} for d in doc_ids))
        examples = []
        for q in range(n_q):
            gold = rng.sample(doc_ids, rng.randint(1, 6))
            excluded = rng.sample(doc_ids, 3) if task in ("leetcode", "aops", "theoremqa_questions") else ["N/A"]
            examples.append({"id": str(q), "query": sentence(rng, rng.randint(20, 200)), "gold_ids": gold, "excluded_ids": excluded,
                             "gold_ids_long": ["N/A"], "reasoning": sentence(rng, 60), "gold_answer": sentence(rng, 80)})
        write_jsonl(data / task / "examples.jsonl", examples)
        for rw in REWRITERS:
            rewritten = {e["id"]: e["query"] if rw == "original" else sentence(rng, rng.randint(80, 400)) for e in examples}
            for ret, flavour in RETRIEVERS.items():
                run = {e["id"]: {d: float(run_depth - i) for i, d in enumerate(rng.sample(doc_ids, run_depth))} for e in examples}
                per_query = {e["id"]: {m: rng.random() for m in METRICS} for e in examples}
                path = result_path(results, rw, ret, task)
                atomic_write_text(path.parent / f"{task}.run.gz", format_run(run))
                spec = {"name": ret, "flavour": flavour, "k1": 0.9, "b": 0.4, "analyzer": "lucene-english-porter-v2"}
                rec = ResultRecord.build(identity={"task": task, "rewriter": {"name": rw}, "retriever": spec}, task=task, rewriter=rw,
                                         retriever=ret, metrics={m: sum(p[m] for p in per_query.values()) / n_q for m in METRICS},
                                         per_query=per_query, data={"source": f"local:{data}"},
                                         queries={e["id"]: {"original": e["query"], "rewritten": rewritten[e["id"]]} for e in examples},
                                         run_file=f"{task}.run.gz")
                write_result(path, rec)
    return data, results


def browser_times(index: Path, task: str, qid: str) -> dict | None:
    from bright_eval.explore import browser

    why = browser.missing()
    if why:
        return {"skipped": why}
    d = browser.start()
    try:
        t0 = time.perf_counter()
        d.get(index.as_uri())
        browser.wait_for(d, "#board", 60)
        overview = time.perf_counter() - t0
        nav = d.execute_script("const t = performance.getEntriesByType('navigation')[0]; return t ? t.loadEventEnd : null")

        def view(hash_: str, css: str) -> float:
            # from setting the hash to the view being drawn, timed inside the page
            return d.execute_async_script(
                "const [hash, css, done] = arguments; const t0 = performance.now(); location.hash = hash;"
                "(function poll() { const el = document.querySelector(css);"
                " if (el && el.offsetParent !== null) done(performance.now() - t0); else setTimeout(poll, 5); })();", hash_, css) / 1000

        d.set_script_timeout(60)
        task_s = view(f"#/task/{task}", "#qtable")
        query_s = view(f"#/query/{task}/{qid}?a=s0&b=s1&show=" + ",".join(f"s{i}" for i in range(10)), "#rankings")
        errors = [e for e in d.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        return {"overview_s": round(overview, 3), "overview_load_event_ms": nav, "task_view_s": round(task_s, 3),
                "query_view_all_10_systems_s": round(query_s, 3), "console_errors": len(errors), "browser": "headless chromium"}
    finally:
        d.quit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run-depth", type=int, default=100, help="documents per query in each synthetic run (BRIGHT: 1000)")
    ap.add_argument("--docs", type=int, default=2000, help="documents per task in the synthetic corpus")
    ap.add_argument("--out", type=Path, default=Path("results/benchmarks/explore_scale.json"))
    ap.add_argument("--keep", type=Path, default=None, help="keep the synthetic folders and the site here")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="explore-scale-"))
    try:
        t0 = time.perf_counter()
        data, results = synthesise(root, args.docs, args.run_depth)
        synth_s = time.perf_counter() - t0
        source, note = source_for(None, data)
        site = root / "site"
        built = build_site(load_results(results), site, source, note, Options(), say=print)
        files = sorted(p for p in site.rglob("*") if p.is_file())
        tasks = sorted(site.glob("data/task-*.js"), key=lambda p: p.stat().st_size)
        queries = sorted(site.glob("data/*/*.js"), key=lambda p: p.stat().st_size)
        largest_task = json.loads(tasks[-1].read_text()[len("BE.put("):].split(",", 1)[0])
        sizes = {"site_bytes": sum(p.stat().st_size for p in files), "files": len(files), "index_html_bytes": (site / "index.html").stat().st_size,
                 "largest_task_file_bytes": tasks[-1].stat().st_size, "largest_query_file_bytes": queries[-1].stat().st_size,
                 "median_query_file_bytes": queries[len(queries) // 2].stat().st_size}
        task = largest_task.split("/", 1)[1]
        times = browser_times(site / "index.html", task, "0")
        one = root / "one.html"
        t1 = time.perf_counter()
        build_site(load_results(results), one, source, note, Options(), single_file=True)
        single = {"single_file_bytes": one.stat().st_size, "single_file_build_s": round(time.perf_counter() - t1, 1)}
        report = {"shape": {"tasks": len(QUERIES), "queries": sum(QUERIES.values()), "systems": len(REWRITERS) * len(RETRIEVERS),
                            "run_depth": args.run_depth, "docs_per_task": args.docs, "doc_chars_shown": Options().doc_chars,
                            "depth_shown": Options().depth},
                  "synthesise_s": round(synth_s, 1), "build_s": round(built.seconds, 1), **sizes, **single, "browser": times,
                  "measured": time.strftime("%Y-%m-%d"), "machine": "2 shared CPU cores (other jobs running)"}
        atomic_write_json(args.out, report)
        print(json.dumps(report, indent=1))
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
