"""The GPU paths on one rented GPU, offline, in minutes: figures into one JSON (run by gpu_check.sh).

1. rewriting: the transformers backend (the one LLM replicas run when vLLM is absent) generating with
   a random-weight Qwen2.5-1.5B-shaped model (`bright-eval train init-model --arch qwen2.5-1.5b`):
   completion tokens/s at a fixed batch, all completions forced to full length (random weights).
2. encoding: DenseRetriever's sharded document encoding (the code Ray encode tasks run) with a
   random-weight model of BAAI/bge-large-en-v1.5's shape (24 layers, 1024 wide, CLS pooling) over
   synthetic passages: docs/s, in fp32 and bf16, each against sentence-transformers' own `encode` of
   the same model on the same GPU (target: ours >= 90% of theirs).
3. training: 3 GRPO steps of the tsqr-1.5b configuration (its batch, group size, completion length,
   optimiser and reward kind) on the random 1.5B model, rollouts by transformers (no vLLM), the
   embedding reward from a random BGE-base-shaped scorer; TRL from a carried wheel.

4. training, small: 3 GRPO steps of a tiny random Qwen2 in bf16 on the GPU (the tiny-cpu recipe on CUDA).

--smoke runs the same steps on CPU with tiny shapes, to check the script end to end anywhere.
Random weights measure speed only; no figure here is a quality figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "stack_exchange_prefs.jsonl"
FULL = {"arch": "qwen2.5-1.5b", "vocab": 8000, "gen_queries": 128, "gen_batch": 64, "gen_tokens": 256,
        "bert": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
        "scorer_bert": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
        "passages": 200_000, "passage_words": 160, "enc_batch": 256, "grpo": []}
SMOKE = {"arch": "qwen2-tiny", "vocab": 600, "gen_queries": 8, "gen_batch": 4, "gen_tokens": 8,
         "bert": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64),
         "scorer_bert": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64),
         "passages": 300, "passage_words": 40, "enc_batch": 32,
         # the shape of the run, cut to what a CPU finishes in a minute
         "grpo": ["grpo.use_cpu=true", "grpo.bf16=false", "grpo.per_device_train_batch_size=4", "grpo.num_generations=4",
                  "grpo.max_completion_length=8", "grpo.gradient_checkpointing=false", "max_prompt_length=1024"]}


def cli(*args: str) -> None:
    res = subprocess.run([sys.executable, "-c", "from bright_eval.cli import main; main()", *args], capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"bright-eval {' '.join(args[:2])} failed:\n{res.stderr[-3000:]}")


def fixture_texts() -> list[str]:
    rows = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["question"] for r in rows] + [a["text"] for r in rows for a in r["answers"]]


def random_bert(folder: Path, shape: dict, texts: list[str], max_len: int = 512) -> Path:
    """A sentence-transformers folder: random BERT of `shape`, a WordPiece tokenizer learnt from `texts`,
    CLS pooling and normalisation (BGE's head)."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    wp = BertWordPieceTokenizer(lowercase=True)
    wp.train_from_iterator(texts, vocab_size=2000, min_frequency=1)
    raw = folder / "raw"
    raw.mkdir(exist_ok=True)
    wp.save_model(str(raw))
    tok = BertTokenizerFast(vocab_file=str(raw / "vocab.txt"), do_lower_case=True, model_max_length=max_len)
    torch.manual_seed(0)
    bert = BertModel(BertConfig(vocab_size=tok.vocab_size, max_position_embeddings=max_len, **shape))
    hf = folder / "hf"
    bert.save_pretrained(hf)
    tok.save_pretrained(hf)
    word = models.Transformer(str(hf), max_seq_length=max_len)
    dim = word.get_embedding_dimension() if hasattr(word, "get_embedding_dimension") else word.get_word_embedding_dimension()
    st = SentenceTransformer(modules=[word, models.Pooling(dim, pooling_mode="cls"), models.Normalize()])
    out = folder / "st"
    st.save(str(out))
    return out


def bench_rewrite(cfg: dict, model: Path, device: str, texts: list[str]) -> dict:
    """Batched generation through the transformers backend with TongSearch-QR's prompt (what `hf:` rewriters run)."""
    from bright_eval.rewriters.hf_backend import TransformersBackend
    from bright_eval.rewriters.prompts import eval_messages
    from bright_eval.rewriters.sampling import Sampling

    be = TransformersBackend(str(model), device=device, dtype="bfloat16" if device == "cuda" else "float32")
    be._load()
    be._model.generation_config.eos_token_id = None  # random weights: every completion runs to max_new_tokens
    convs = [eval_messages("tsqr", texts[i % len(texts)][:600], False) for i in range(cfg["gen_queries"])]
    greedy = Sampling(max_tokens=cfg["gen_tokens"]).to_dict()
    be.generate(convs[:2], Sampling(max_tokens=2).to_dict())  # warm-up (kernels, allocator)
    _sync(device)
    t0, done = time.perf_counter(), 0
    for i in range(0, len(convs), cfg["gen_batch"]):
        results = be.generate(convs[i:i + cfg["gen_batch"]], greedy)
        failed = [r for r in results if isinstance(r, Exception)]
        if failed:
            raise SystemExit(f"rewrite: {len(failed)} of {len(results)} generations failed: {failed[0]}")
        done += sum(r.completion_tokens for r in results)
    _sync(device)
    wall = time.perf_counter() - t0
    return {"queries": len(convs), "batch": cfg["gen_batch"], "max_new_tokens": cfg["gen_tokens"], "completion_tokens": done,
            "seconds": round(wall, 2), "tokens_per_s": round(done / wall, 1), "queries_per_s": round(len(convs) / wall, 2)}


def bench_encode(cfg: dict, st_folder: Path, device: str, texts: list[str], work: Path) -> dict:
    """DenseRetriever's sharded, cached encoding against sentence-transformers' own `encode` of the same
    model and passages on the same device, in fp32 and bf16 (target: ours >= 90% of theirs, since we wrap
    it); each pair runs back to back so clocks and memory state match."""
    import torch
    from sentence_transformers import SentenceTransformer

    from bright_eval.cache import ArtifactCache
    from bright_eval.data import Corpus
    from bright_eval.retrievers import RETRIEVERS

    words = " ".join(texts).split()
    rng = random.Random(0)
    docs = [" ".join(rng.choices(words, k=cfg["passage_words"])) for _ in range(cfg["passages"])]
    out = {"passages": len(docs), "words_per_passage": cfg["passage_words"], "batch": cfg["enc_batch"]}
    for dtype in ("float32", "bfloat16"):
        r = RETRIEVERS.create(f"st:{st_folder}", {"batch_size": cfg["enc_batch"], "device": device, "shard_size": 8192},
                              cache=ArtifactCache(work / f"cache-{dtype}"))
        r.model.to(getattr(torch, dtype))
        r._encode(docs[:cfg["enc_batch"]], "", r.doc_max_length)  # warm-up
        _sync(device)
        t0 = time.perf_counter()
        r.index(Corpus([f"p{i}" for i in range(len(docs))], docs, f"synthetic-{dtype}"))  # the path Ray encode tasks take
        _sync(device)
        ours = time.perf_counter() - t0
        del r
        st = SentenceTransformer(str(st_folder), device=device).to(getattr(torch, dtype))
        st.encode(docs[:cfg["enc_batch"]], batch_size=cfg["enc_batch"])
        _sync(device)
        t0 = time.perf_counter()
        st.encode(docs, batch_size=cfg["enc_batch"], normalize_embeddings=True, convert_to_numpy=True)
        _sync(device)
        theirs = time.perf_counter() - t0
        del st
        if device == "cuda":
            torch.cuda.empty_cache()
        out[dtype] = {"ours_docs_per_s": round(len(docs) / ours, 1), "sentence_transformers_docs_per_s": round(len(docs) / theirs, 1),
                      "ours_over_theirs": round(theirs / ours, 3), "target": ">= 0.9"}
    return out


def bench_grpo(cfg: dict, model: Path, data: Path, scorer: Path, work: Path) -> dict:
    out = work / "grpo-out"
    sets = [f"model={model}", f"data={data}", f"output_dir={out}", "grpo.max_steps=3", "grpo.use_vllm=false",
            "grpo.save_steps=1000", f"scorer.model={scorer}", "grpo.gradient_accumulation_steps=1", *cfg["grpo"]]
    t0 = time.perf_counter()
    cli("train", "grpo", "--config", "tsqr-1.5b", *[a for s in sets for a in ("--set", s)])
    wall = time.perf_counter() - t0
    logs = sorted(out.rglob("trainer_state.json")) or sorted(out.rglob("*.jsonl"))
    steps = []
    if logs and logs[-1].name == "trainer_state.json":
        steps = [h for h in json.loads(logs[-1].read_text())["log_history"] if "step" in h]
    keep = ("step", "step_time", "num_tokens", "completions/mean_length", "reward", "loss", "grad_norm")
    return {"steps": 3, "seconds_total": round(wall, 1), "overrides": sets[3:],
            "log": [{k: h[k] for k in keep if k in h} for h in steps[-3:]]}


def bench_grpo_tiny(data: Path, work: Path, smoke: bool) -> dict:
    """A few GRPO steps of a tiny random Qwen2 in bf16 on the GPU: the tiny-cpu recipe (BM25 reward)
    moved to CUDA, so the device path of training is checked in seconds, apart from the model's size."""
    tiny, out = work / "policy-qwen2-tiny", work / "grpo-tiny-out"
    if not (tiny / "config.json").exists():
        cli("train", "init-model", "--arch", "qwen2-tiny", "--tokenizer-data", str(data), "--out", str(tiny), "--vocab-size", "600")
    device = ["grpo.use_cpu=true", "grpo.bf16=false"] if smoke else ["grpo.use_cpu=false", "grpo.bf16=true", "dtype=bfloat16"]
    sets = [f"model={tiny}", f"data={data}", f"output_dir={out}", "resume=false", "grpo.max_steps=3", "grpo.save_steps=1000", *device]
    t0 = time.perf_counter()
    cli("train", "grpo", "--config", "tiny-cpu", *[a for s in sets for a in ("--set", s)])
    wall = time.perf_counter() - t0
    log = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines() if x.strip()]
    steps = [r for r in log if "reward" in r]
    return {"steps": len(steps), "seconds_total": round(wall, 1), "overrides": sets[3:],
            "log": [{k: r[k] for k in ("step", "step_time", "reward", "loss", "grad_norm") if k in r} for r in steps[-3:]]}


def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny shapes on CPU: checks the script, measures nothing useful")
    ap.add_argument("--work", default="/tmp/bright-eval-gpu-check")
    ap.add_argument("--out", default="results/benchmarks/gpu_check.json")
    ap.add_argument("--only", default="rewrite,encode,grpo-tiny,grpo")
    args = ap.parse_args()
    import torch

    cfg = SMOKE if args.smoke else FULL
    device = "cpu" if args.smoke else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU visible; use --smoke to check the script on CPU")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    report = {"smoke": args.smoke, "device": torch.cuda.get_device_name(0) if device == "cuda" else platform.processor() or "cpu",
              "torch": torch.__version__, "python": platform.python_version(), "figures": {}}
    t_all = time.perf_counter()
    texts = fixture_texts()
    data, policy = work / "train-data", work / f"policy-{cfg['arch']}"
    guard = work / "guard"  # the leakage guard needs BRIGHT's queries; offline, the shared copy or none
    shared = Path(os.environ.get("BRIGHT_SHARED", REPO.parent / "shared" / "bright"))
    guard_args = ["--data-dir", str(shared)] if (shared / "biology" / "examples.jsonl").exists() else None
    if guard_args is None:
        (guard / "biology").mkdir(parents=True, exist_ok=True)
        (guard / "biology" / "examples.jsonl").write_text("")
        guard_args = ["--data-dir", str(guard), "--guard-tasks", "biology"]
    cli("train", "prepare", "--input", str(FIXTURE), "--out", str(data), *guard_args)
    if not (policy / "config.json").exists():
        cli("train", "init-model", "--arch", cfg["arch"], "--tokenizer-data", str(data), "--out", str(policy), "--vocab-size", str(cfg["vocab"]))
    steps = args.only.split(",")
    if "rewrite" in steps:
        report["figures"]["rewrite_transformers"] = bench_rewrite(cfg, policy, device, texts)
        print("rewrite", report["figures"]["rewrite_transformers"], flush=True)
    bge = random_bert(work / "bge-large-shape", cfg["bert"], texts)
    if "encode" in steps:
        report["figures"]["encode_bge_large_shape"] = bench_encode(cfg, bge, device, texts, work)
        print("encode", report["figures"]["encode_bge_large_shape"], flush=True)
    if "grpo-tiny" in steps:
        report["figures"]["grpo_tiny_bf16"] = bench_grpo_tiny(data, work, args.smoke)
        print("grpo-tiny", report["figures"]["grpo_tiny_bf16"], flush=True)
    if "grpo" in steps:
        scorer = random_bert(work / "bge-base-shape", cfg["scorer_bert"], texts)
        report["figures"]["grpo_tsqr_1.5b_shape"] = bench_grpo(cfg, policy, data, scorer, work)
        print("grpo", report["figures"]["grpo_tsqr_1.5b_shape"], flush=True)
    if device == "cuda":
        report["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    report["seconds"] = round(time.perf_counter() - t_all, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
