"""Rewriting with a language model: TongSearch-QR's prompt through the chat template, optional
think mode, composition, the persistent cache and the per-query failure record. Backends
(transformers, vLLM, OpenAI-compatible HTTP) only turn chat messages into completions."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Protocol

from bright_eval.cache import ArtifactCache
from bright_eval.errors import BrightEvalError
from bright_eval.io import fingerprint_of
from bright_eval.progress import progress

from . import Query, RewriteStats
from .cache import CachedRewrite, RewriteCache
from .compose import check_mode, compose, suffix
from .prompts import TSQR_PROMPT, tsqr_user_message

# TongSearch-QR's optional reasoning format: the answer block is the reasoned query.
THINK_SYSTEM = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
    "The assistant first thinks about the reasoning process in the mind and then provides the user with the answer. "
    "The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, respectively, "
    "i.e., <think> reasoning process here </think> <answer> answer here </answer>."
)
_ANSWER = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.S)


def extract_answer(completion: str, think: bool) -> str | None:
    """The usable rewrite, or None when the completion cannot be used (empty, or no <answer> block)."""
    if think:
        m = _ANSWER.search(completion)
        text = m.group(1).strip() if m else ""
    else:
        text = completion.strip()
    return text or None


@dataclass(frozen=True)
class Decoding:
    max_new_tokens: int = 1024
    temperature: float = 0.0  # greedy, as TongSearch-QR's evaluation
    top_p: float = 1.0


@dataclass
class Generation:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Backend(Protocol):
    def describe(self) -> dict: ...

    def generate(self, conversations: list[list[dict]], decoding: Decoding, on_result=None) -> list[Generation | Exception]:
        """One result per conversation, in order; a per-item exception instead of raising keeps the
        finished items of a batch. Backends that can may call `on_result(i, result)` as items finish."""


def build_messages(question: str, think: bool) -> list[dict]:
    msgs = [{"role": "system", "content": THINK_SYSTEM}] if think else []
    return msgs + [{"role": "user", "content": tsqr_user_message(question)}]


class LLMRewriter:
    def __init__(self, name: str, backend: Backend, decoding: Decoding = Decoding(), think: bool = False,
                 compose_mode: str = "replace", cache: ArtifactCache | None = None, batch_size: int = 16,
                 prices: tuple[float, float] | None = None):
        self.backend = backend
        self.decoding = decoding
        self.think = think
        self.compose_mode = check_mode(compose_mode)
        self.name = name + ("+think" if think else "") + suffix(compose_mode)
        self.batch_size = batch_size
        self.prices = prices  # USD per 1M (prompt, completion) tokens
        root = (cache or ArtifactCache()).root
        self.cache = RewriteCache(root / "rewrites" / "rewrites.sqlite")
        self.stats = RewriteStats()

    def spec(self) -> dict:
        return {"name": self.name, "kind": "llm", "model": self.backend.describe(), "prompt": TSQR_PROMPT,
                "system": THINK_SYSTEM if self.think else None, "think": self.think, "decoding": asdict(self.decoding),
                "compose": self.compose_mode}

    def _key(self, text: str) -> str:
        model = self.backend.describe()
        return fingerprint_of({"model": model.get("model"), "revision": model.get("revision"), "prompt": TSQR_PROMPT,
                               "system": THINK_SYSTEM if self.think else None, "decoding": asdict(self.decoding), "query": text})

    def is_cached(self, queries: list[Query]) -> bool:
        keys = list(dict.fromkeys(self._key(q.text) for q in queries))
        return len(self.cache.get_many(keys)) == len(keys)

    def rewrite(self, queries: list[Query]) -> list[str]:
        keys = [self._key(q.text) for q in queries]
        found = self.cache.get_many(list(dict.fromkeys(keys)))
        todo: dict[str, Query] = {}
        for k, q in zip(keys, queries):
            if k not in found and k not in todo:
                todo[k] = q
        self.stats.from_cache += sum(1 for k in keys if k in found)
        model_id = str(self.backend.describe().get("model"))
        pending = list(todo.items())
        batches = [pending[i:i + self.batch_size] for i in range(0, len(pending), self.batch_size)]
        for batch in progress(batches, total=len(batches), description=f"{self.name}: rewriting {len(pending)} queries"):
            errors: list[tuple[Query, Exception]] = []

            def store(i: int, res) -> None:
                k, q = batch[i]
                if k in found:
                    return
                if isinstance(res, Exception):
                    errors.append((q, res))
                    return
                item = CachedRewrite(res.text, extract_answer(res.text, self.think), res.prompt_tokens, res.completion_tokens)
                self.cache.put(k, model_id, q.text, item)
                found[k] = item
                self.stats.generated += 1
                self.stats.prompt_tokens += res.prompt_tokens
                self.stats.completion_tokens += res.completion_tokens

            conversations = [build_messages(q.text, self.think) for _, q in batch]
            results = self.backend.generate(conversations, self.decoding, on_result=store)
            failed = {id(q) for q, _ in errors}
            for i, res in enumerate(results):  # backends that do not stream results are stored here
                if id(batch[i][1]) not in failed:
                    store(i, res)
            if self.prices:
                self.stats.cost_usd = (self.stats.prompt_tokens * self.prices[0] + self.stats.completion_tokens * self.prices[1]) / 1e6
            if errors:
                q, exc = errors[0]
                raise BrightEvalError(f"rewriter '{self.name}' failed on query {q.task}/{q.id} ({exc}); the "
                                      f"{self.stats.generated} rewrites finished so far are cached, rerun to continue")
        out = []
        for k, q in zip(keys, queries):
            item = found[k]
            if item.rewrite is None:
                # Unusable output: keep the original query so the query still counts, and record it.
                self.stats.failed[f"{q.task}/{q.id}"] = "unparsable completion" if item.completion.strip() else "empty completion"
                out.append(q.text)
            else:
                out.append(compose(q.text, item.rewrite, self.compose_mode))
        return out
