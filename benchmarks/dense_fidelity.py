"""Dense fidelity, offline: BRIGHT's own encoding functions vs bright-eval on tiny random-weight models.

    python benchmarks/dense_fidelity.py --bright /path/to/BRIGHT/retrievers.py [--gritlm /path/to/site-packages-with-gritlm]
        [--data ../shared/bright] [--out results/benchmarks/dense_fidelity.json]

BRIGHT's retrievers.py is imported as it is (nothing is copied into this repository); the API SDKs it
imports at the top (cohere, vertexai, voyageai, tiktoken, InstructorEmbedding, torchmetrics, and
gritlm unless --gritlm is given) are replaced by empty modules, and its hard-coded hub ids are
redirected to tiny models built by tests/tiny_models.py, shaped like the real ones. Each model then
ranks real BRIGHT questions against real answers both ways; we require identical rankings and
cosine scores within 1e-5.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import sys
import tempfile
import types
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
STUBBED = ("cohere", "vertexai", "tiktoken", "voyageai", "InstructorEmbedding", "torchmetrics",
           "torchmetrics.functional", "torchmetrics.functional.pairwise")


def load_bright(path: Path, gritlm: str | None):
    import torch

    if gritlm:
        sys.path.insert(0, gritlm)
    for name in STUBBED + (() if gritlm else ("gritlm",)):
        if name not in sys.modules:
            mod = types.ModuleType(name)
            mod.INSTRUCTOR = mod.GritLM = mod.OpenAI = None
            mod.pairwise_cosine_similarity = lambda a, b: torch.nn.functional.normalize(a, dim=-1) @ torch.nn.functional.normalize(b, dim=-1).T
            sys.modules[name] = mod
    if "openai" not in sys.modules:
        try:
            import openai  # noqa: F401
        except ImportError:
            sys.modules["openai"] = types.SimpleNamespace(OpenAI=None)
    spec = importlib.util.spec_from_file_location("bright_retrievers", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def texts(data: Path, n_docs: int = 16, n_queries: int = 6):
    from bright_eval.data import LocalSource

    exs = [e for e in LocalSource(data).examples("biology") if e.gold_answer.strip()][:n_docs]
    cut = lambda t: " ".join(t.split()[:200])
    return ([e.id for e in exs[:n_queries]], [cut(e.query) for e in exs[:n_queries]],
            [f"a{e.id}" for e in exs], [cut(e.gold_answer) for e in exs])


def ours(model_def, qids, queries, dids, docs, task="biology", batch_size=4):
    from bright_eval.cache import ArtifactCache
    from bright_eval.data import Corpus
    from bright_eval.retrievers import RETRIEVERS

    r = RETRIEVERS.create("st:x", cache=ArtifactCache(tempfile.mkdtemp()))  # the factory's class, bound to our model
    cls = type(r)
    if model_def.encoder == "grit":
        from bright_eval.retrievers.grit import GritRetriever as cls
    r = cls(model_def, cache=ArtifactCache(tempfile.mkdtemp()), batch_size=batch_size, device="cpu").for_task(task)
    r.index(Corpus(dids, docs))
    return r.search(dict(zip(qids, queries)), k=len(docs))


def compare(theirs: dict, mine: dict, scale: float, tol: float = 1e-5) -> dict:
    """Rankings must be identical except between documents whose scores are within `tol` (random tiny
    BERTs give near-equal cosines; float32 order among those is noise, not a difference of method)."""
    worst, swaps, near = 0.0, 0, 0
    for q, row in theirs.items():
        t = {d: s / scale for d, s in row.items()}
        order = sorted(mine[q], key=lambda d: -mine[q][d])
        worst = max(worst, max(abs(t[d] - mine[q][d]) for d in t))
        for i, a in enumerate(order):
            for b in order[i + 1:]:
                if t[a] < t[b]:  # we rank a above b, BRIGHT the other way round
                    swaps += 1
                    near += t[b] - t[a] <= tol
    return {"swapped_pairs": swaps, "swapped_pairs_beyond_tol": swaps - near, "max_abs_cosine_diff": worst,
            "ok": swaps == near and worst <= tol}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bright", required=True, type=Path, help="BRIGHT's retrievers.py")
    ap.add_argument("--gritlm", default=None, help="a folder holding the gritlm package (pip download gritlm)")
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "bright")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    import tiny_models
    import transformers
    from sentence_transformers import SentenceTransformer

    from bright_eval.retrievers.dense_models import BY_NAME

    br = load_bright(args.bright, args.gritlm)
    qids, queries, dids, docs = texts(args.data)
    task = "biology"
    root = Path(tempfile.mkdtemp(prefix="fidelity-"))
    vocab_texts = queries + docs + [BY_NAME["e5-mistral-7b-instruct"].instructions(task)[0],
                                    BY_NAME["gritlm-7b"].instructions(task)[0]]
    cases = {  # BRIGHT model id -> (our registry model, architecture, pooling, padding side, hub id BRIGHT loads)
        "e5": ("e5-mistral-7b-instruct", "mistral", "lasttoken", "left", "intfloat/e5-mistral-7b-instruct"),
        "sf": ("sfr-embedding-mistral", "mistral", "lasttoken", "right", "salesforce/sfr-embedding-mistral"),
        "qwen2": ("gte-qwen2-7b-instruct", "qwen2", "lasttoken", "right", "alibaba-nlp/gte-qwen2-7b-instruct"),
        "bge": ("bge-large-en-v1.5", "bert", "cls_token", "right", "BAAI/bge-large-en-v1.5"),
        "sbert": ("all-mpnet-base-v2", "bert", "mean_tokens", "right", "sentence-transformers/all-mpnet-base-v2"),
        "grit": ("gritlm-7b", "mistral", "mean_tokens", "right", "GritLM/GritLM-7B"),
    }
    folders = {}
    for mid, (_, arch, pooling, side, hub) in cases.items():
        folders[hub] = str(tiny_models.build(root / mid, arch, pooling, vocab_texts, padding_side=side, seed=len(mid)))
    redirect = lambda name: folders.get(name, name)
    orig_tok, orig_model = transformers.AutoTokenizer.from_pretrained, transformers.AutoModel.from_pretrained
    br.AutoTokenizer = types.SimpleNamespace(from_pretrained=lambda n, *a, **k: orig_tok(redirect(n), *a, **k))
    br.AutoModel = types.SimpleNamespace(from_pretrained=lambda n, *a, **k: orig_model(
        redirect(n), *a, **{x: v for x, v in k.items() if x != "device_map"}))
    br.SentenceTransformer = lambda n, *a, **k: SentenceTransformer(redirect(n), *a, device="cpu", **k)
    if args.gritlm:
        grit_cls = br.GritLM
        br.GritLM = lambda n, *a, **k: grit_cls(redirect(n), *a, device="cpu", **k)

    config = lambda mid: json.loads((args.bright.parent / "configs" / mid / f"{task}.json").read_text())["instructions"]
    report = {}
    for mid, (name, *_rest, hub) in cases.items():
        if mid == "grit" and not args.gritlm:
            report[mid] = {"skipped": "no --gritlm"}
            continue
        fn = br.RETRIEVAL_FUNCS[mid]
        theirs = fn(queries=queries, query_ids=qids, documents=docs, doc_ids=dids, task=task, model_id=mid,
                    instructions=config(mid), cache_dir=tempfile.mkdtemp(), excluded_ids={q: [] for q in qids},
                    long_context=False)
        model_def = dataclasses.replace(BY_NAME[name], model_id=folders[hub])
        mine = ours(model_def, qids, queries, dids, docs, task)
        scale = 100.0 if mid in ("e5", "sf", "qwen2") else 1.0  # BRIGHT scales these cosines by 100 (L191)
        report[mid] = {"ours": name, **compare(theirs, mine, scale)}
        print(mid, report[mid], flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    if not all(r.get("ok", True) for r in report.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
