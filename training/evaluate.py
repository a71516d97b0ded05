"""Evaluation while training: every N steps the policy rewrites a few held-out BRIGHT queries (greedy,
the evaluation prompt) and BRIGHT's BM25 retrieves with the rewrites from a BRIGHT-layout folder
(e.g. `bright-eval data proxy` output); nDCG@10 goes into train_log.jsonl beside the reward.

    eval: {data: data/proxy, tasks: [biology], every: 10, max_queries: 20, max_new_tokens: 128}

Cost per evaluation: max_queries x tasks greedy generations of at most max_new_tokens tokens, one
at a time on the main process, plus BM25 searches (indexes are built once, at the start). Other
processes wait at their next synchronisation meanwhile. Not for ZeRO-3, where generation needs every
rank's shard of the weights.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from bright_eval.errors import BrightEvalError

log = logging.getLogger(__name__)


@dataclass
class EvalConfig:
    data: str
    tasks: list[str] = field(default_factory=list)  # empty: every task of the folder
    every: int = 10
    max_queries: int = 20
    max_new_tokens: int = 128
    top_k: int = 100

    @classmethod
    def from_block(cls, block: dict, where: str) -> EvalConfig:
        if not isinstance(block, dict) or "data" not in block:
            raise BrightEvalError(f"{where}: field 'eval' must be a mapping with 'data' (a BRIGHT-layout folder), e.g. "
                                  "{data: data/proxy, tasks: [biology], every: 10, max_queries: 20}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(block) - known)
        if unknown:
            raise BrightEvalError(f"{where}: eval.{unknown[0]} is not an eval field ({', '.join(sorted(known))})")
        cfg = cls(**block)
        for name in ("every", "max_queries", "max_new_tokens", "top_k"):
            value = getattr(cfg, name)
            if not isinstance(value, int) or value < 1:
                raise BrightEvalError(f"{where}: eval.{name} must be a positive integer, got {value!r}")
        if isinstance(cfg.tasks, str):
            cfg.tasks = [t.strip() for t in cfg.tasks.split(",") if t.strip()]
        return cfg


class HeldOut:
    """The held-out queries and their BM25 indexes, built once."""

    def __init__(self, cfg: EvalConfig, think: bool = False):
        from bright_eval.data import LocalSource
        from bright_eval.retrievers.bm25 import BM25Retriever
        from bright_eval.tasks import parse_tasks

        root = Path(cfg.data)
        if not root.is_dir():
            raise BrightEvalError(f"eval.data {root}: not a folder (expected a BRIGHT-layout folder, e.g. `bright-eval data proxy --out DIR`)")
        tasks = parse_tasks(cfg.tasks) if cfg.tasks else sorted(p.name for p in root.iterdir() if (p / "examples.jsonl").exists())
        if not tasks:
            raise BrightEvalError(f"eval.data {root}: no <task>/examples.jsonl inside")
        self.cfg, self.think = cfg, think
        source = LocalSource(root)
        self.tasks = {}
        for task in tasks:
            examples = [e for e in source.examples(task) if e.gold_ids][: cfg.max_queries]
            retriever = BM25Retriever(flavour="bright", cache=None)
            retriever.index(source.documents(task))
            self.tasks[task] = (examples, retriever)

    def rewrites(self, model, tokenizer, queries: list[str]) -> list[str]:
        import torch

        from bright_eval.rewriters.prompts import eval_messages, inference_text

        out = []
        device = next(model.parameters()).device
        for q in queries:
            enc = tokenizer.apply_chat_template(eval_messages("tsqr", q, self.think), add_generation_prompt=True,
                                                return_tensors="pt", return_dict=True)
            enc = {k: v.to(device) for k, v in enc.items()}
            with torch.no_grad():
                ids = model.generate(**enc, max_new_tokens=self.cfg.max_new_tokens, do_sample=False,
                                     pad_token_id=tokenizer.pad_token_id)
            text = inference_text(tokenizer.decode(ids[0, enc["input_ids"].shape[1]:], skip_special_tokens=True), self.think)
            out.append(text if text.strip() else q)  # as the rewriters do: an empty rewrite retrieves with the query
        return out

    def evaluate(self, model, tokenizer) -> dict[str, float]:
        from bright_eval.scoring import evaluate_run, mean_metrics

        t0 = time.perf_counter()
        was_training = model.training
        model.eval()
        row: dict[str, float] = {}
        try:
            scores = []
            for task, (examples, retriever) in self.tasks.items():
                texts = self.rewrites(model, tokenizer, [e.query for e in examples])
                run = retriever.search({e.id: t for e, t in zip(examples, texts)}, k=self.cfg.top_k,
                                       exclude={e.id: set(e.excluded_ids) for e in examples})
                ndcg = mean_metrics(evaluate_run(run, examples, self.cfg.top_k))["ndcg@10"]
                row[f"eval/ndcg@10/{task}"] = round(100 * ndcg, 2)
                scores.append(100 * ndcg)
            row["eval/ndcg@10"] = round(sum(scores) / len(scores), 2)
        finally:
            if was_training:
                model.train()
        row["eval/seconds"] = round(time.perf_counter() - t0, 2)
        return row


def make_eval_callback(held_out: HeldOut, tokenizer, jsonl: Path):
    """Evaluates before the first step (unless resuming) and every `every` steps, on the main process."""
    import json

    from transformers import TrainerCallback

    def write(step: int, row: dict) -> None:
        Path(jsonl).parent.mkdir(parents=True, exist_ok=True)
        with open(jsonl, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"step": step, **row}) + "\n")
        log.info("step %d: held-out nDCG@10 %.2f (%.1fs)", step, row["eval/ndcg@10"], row["eval/seconds"])

    class HeldOutEval(TrainerCallback):
        def _run(self, state, model):
            if state.is_world_process_zero and model is not None:
                write(state.global_step, held_out.evaluate(_unwrap(model), tokenizer))

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            if state.global_step == 0:
                self._run(state, model)

        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step % held_out.cfg.every == 0:
                self._run(state, model)

    return HeldOutEval()


def _unwrap(model):
    return getattr(model, "module", model)
