"""V1 training data from any reasoning model: `{question: reasoned text}`, the released raw format
(TongSearch-QR data_train/raw_data/V1-R1.json and V1-QwQ.json pair each sampled question with the
text of DeepSeek-R1 / QwQ; README "Build Training Dataset"), ready for `train prepare --recipe released`.

Questions come from the released sampler's output (a JSON list of {"instruction", "input"},
scripts/data_process/sample_stackexchange.py:78-81), a JSON list of question strings, or the keys of
a raw object. The output key is the training user turn, as the sampler writes it (`input` verbatim;
bare questions get its "Instructions: ... Question: " prefix), so the built rows prompt the policy
exactly as the released ones do. The reasoning model itself gets the question through its
rewriter's own prompt (`--prompt tsqr` by default); the released repository does not say which
prompt produced its V1 texts.

Generation goes through a rewriter of the registry, so its persistent cache makes a rerun after an
interruption continue where it stopped (each reply is committed as it arrives), and its stats give
the token counts and cost. Questions that are BRIGHT queries (the leakage guard) are never sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from bright_eval.components import Query, SendsRequests
from bright_eval.errors import BrightEvalError
from bright_eval.io import atomic_write_json, read_text
from bright_eval.rewriters.prompts import TSQR_TRAIN_PREFIX

from .leakage import LeakageGuard
from .released import bare_question

TASK = "distill"  # the Query.task of every question (the rewrite cache is keyed by text, not by id)


def read_questions(path: Path) -> list[tuple[str, str]]:
    """(output key, bare question) per question, in file order, first occurrence of each key kept."""
    path = Path(path)
    try:
        obj = json.loads(read_text(path, "a questions file (JSON)"))
    except json.JSONDecodeError as exc:
        raise BrightEvalError(f"--questions {path}: not valid JSON ({exc.msg} at line {exc.lineno}); expected the sampler's "
                              "list of {instruction, input}, a list of question strings, or a raw {question: ...} object") from None
    items = list(obj) if isinstance(obj, dict) else obj
    if not isinstance(items, list):
        raise BrightEvalError(f"--questions {path}: expected a JSON list or object at the top level, got {type(obj).__name__}")
    out: dict[str, str] = {}
    for i, item in enumerate(items):
        if isinstance(item, dict):
            if not isinstance(item.get("input"), str):
                raise BrightEvalError(f"--questions {path}: item {i}: field 'input' (a string, the sampler's prompt + question) is missing")
            key = item["input"]
        elif isinstance(item, str):
            key = item if item.startswith(TSQR_TRAIN_PREFIX) else TSQR_TRAIN_PREFIX + item
        else:
            raise BrightEvalError(f"--questions {path}: item {i}: expected a string or an object with 'input', got {type(item).__name__}")
        q = bare_question(key)
        if not q.strip():
            raise BrightEvalError(f"--questions {path}: item {i}: empty question")
        out.setdefault(key, q)
    if not out:
        raise BrightEvalError(f"--questions {path}: no questions")
    return list(out.items())


@dataclass
class DistillResult:
    pairs: dict[str, str] = field(default_factory=dict)
    leaks: list[dict] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)


def distill(rewriter, questions: list[tuple[str, str]], guard: LeakageGuard | None, chunk: int = 256) -> DistillResult:
    """Reasoned text per question. Chunks bound what one failure can cost before the cache has it."""
    if not isinstance(rewriter, SendsRequests):
        raise BrightEvalError(f"--rewriter '{rewriter.name}': distillation needs a model (openai:, hf:, a local model name); "
                              "this one only reads precomputed rewrites")
    spec = rewriter.spec()
    if spec.get("compose", "replace") != "replace":
        raise BrightEvalError(f"--compose {spec['compose']}: distillation keeps the model's text alone; use --compose replace")
    res = DistillResult()
    todo: list[tuple[str, Query]] = []
    for i, (key, q) in enumerate(questions):
        match = guard.check(q) if guard is not None else None
        if match is not None:
            res.leaks.append({"question": q[:200], "bright_query": match.query_id, "kind": match.kind, "overlap": round(match.overlap, 4)})
            continue
        todo.append((key, Query(TASK, str(i), q)))
    for start in range(0, len(todo), chunk):
        part = todo[start:start + chunk]
        texts = rewriter.rewrite([q for _, q in part])
        for (key, q), text in zip(part, texts):
            if "empty completion" in rewriter.stats.failed.get(f"{TASK}/{q.id}", ""):
                res.empty.append(key)  # an empty completion: the rewriter fell back to the question itself
                continue
            res.pairs[key] = text
    return res


def write_distilled(out: Path, result: DistillResult, rewriter, n_questions: int, source: str, guard_size: int) -> dict:
    """`out` (the raw V1 object) and `<out>.card.json` (what made it, what it cost, what was left out)."""
    from dataclasses import asdict

    from bright_eval.provenance import environment

    if not result.pairs:
        raise BrightEvalError(f"no question was distilled ({len(result.leaks)} leaked, {len(result.empty)} empty completions); "
                              f"nothing written to {out}")
    atomic_write_json(out, result.pairs, indent=1)
    stats = asdict(rewriter.stats)
    stats["failed"] = len(stats.get("failed", {}))
    card = {"schema": "bright-eval.distill/1", "questions": source, "n_questions": n_questions, "n_written": len(result.pairs),
            "rewriter": rewriter.spec(), "stats": stats,
            "leakage": {"protected_queries": guard_size, "dropped": len(result.leaks), "matches": result.leaks},
            "empty_completions": result.empty, "environment": environment()}
    atomic_write_json(card_path(out), card)
    return card


def card_path(out: Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".card.json")
