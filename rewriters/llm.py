"""Rewriting with a language model: the prompt's chat messages, one sampling dictionary, the
persistent cache and the per-query failure record. Backends (transformers, vLLM, OpenAI-compatible
HTTP) only turn (messages, sampling) into completions; `requests()` shows exactly what they get.

Output contract (TongSearch-QR's released inference, scripts/evaluation/vllm_model.py:68-69,81-85):
the completion as generated; in think mode the <answer> of `<think>..</think> <answer>..</answer>`,
or the raw completion when that pattern is absent (recorded in `stats.failed`). An empty completion
is the one case where the original query is used instead (an empty query retrieves nothing).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

from bright_eval.cache import ArtifactCache
from bright_eval.errors import BrightEvalError
from bright_eval.io import fingerprint_of
from bright_eval.progress import progress

from . import Query, RewriteStats
from .cache import CachedRewrite, RewriteCache
from .compose import check_mode, compose_each
from .prompts import check_prompt, eval_messages, inference_text, think_answer
from .sampling import Sampling

CACHE_KEY_VERSION = 2  # v1 keys ignored the endpoint, the system message and most decoding parameters


@dataclass
class Generation:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Backend(Protocol):
    def describe(self) -> dict:
        """What selects the model behind the name: backend, model, revision, endpoint, dtype."""

    def wire(self, sampling: dict) -> dict:
        """The decoding arguments this backend hands its library for `sampling` (recorded in spec)."""

    def generate(self, conversations: list[list[dict]], sampling: dict, on_result=None) -> list[Generation | Exception]:
        """One result per conversation, in order; a per-item exception instead of raising keeps the
        finished items of a batch. Backends that can call `on_result(i, result)` as items finish."""


class LLMRewriter:
    def __init__(self, name: str, backend: Backend, sampling: Sampling | None = None, prompt: str = "tsqr", think: bool = False,
                 compose_mode: str = "replace", cache: ArtifactCache | None = None, batch_size: int = 16,
                 prices: tuple[float, float] | None = None):
        self.name = name
        self.backend = backend
        self.sampling = sampling or Sampling()
        self.prompt = check_prompt(prompt)
        self.think = think
        self.compose_mode = check_mode(compose_mode)
        self.batch_size = batch_size
        self.prices = prices  # USD per 1M (prompt, completion) tokens
        root = (cache or ArtifactCache()).root
        self.cache = RewriteCache(root / "rewrites" / "rewrites.sqlite")
        self.stats = RewriteStats()
        self._lock = threading.Lock()
        self._identity: dict | None = None

    def identity(self) -> dict:
        """The backend's description, computed once (it may stat a checkpoint folder or probe CUDA)."""
        if self._identity is None:
            self._identity = self.backend.describe()
        return self._identity

    def messages(self, text: str) -> list[dict]:
        return eval_messages(self.prompt, text, self.think)

    def requests(self, queries: list[Query]) -> list[dict]:
        """Exactly what the backend is given, one {"messages", "sampling"} per query; loads nothing."""
        return [{"messages": self.messages(q.text), "sampling": self.sampling.to_dict()} for q in queries]

    def spec(self) -> dict:
        sampling = self.sampling.to_dict()
        return {"name": self.name, "kind": "llm", "model": self.identity(), "prompt": self.prompt,
                "messages": self.messages("{question}"), "think": self.think, "sampling": sampling,
                "sent": self.backend.wire(sampling), "compose": self.compose_mode}

    def _key(self, text: str) -> str:
        # Everything that changes the text: model identity (incl. revision, endpoint, dtype), the full
        # chat, every decoding parameter and the seed.
        return fingerprint_of({"v": CACHE_KEY_VERSION, "model": self.identity(), "messages": self.messages(text),
                               "sampling": self.sampling.to_dict()})

    def is_cached(self, queries: list[Query]) -> bool:
        keys = list(dict.fromkeys(self._key(q.text) for q in queries))
        return len(self.cache.get_many(keys)) == len(keys)

    def _generate(self, pending: list[tuple[str, Query]], found: dict[str, CachedRewrite]) -> None:
        model_id = str(self.identity().get("model"))
        sampling = self.sampling.to_dict()
        batches = [pending[i:i + self.batch_size] for i in range(0, len(pending), self.batch_size)]
        for batch in progress(batches, total=len(batches), description=f"{self.name}: rewriting {len(pending)} queries"):
            errors: list[tuple[Query, Exception]] = []
            done: set[int] = set()

            def store(i: int, res, batch=batch, errors=errors, done=done) -> None:
                # Called as each reply arrives (from worker threads for API backends): cache it at once.
                k, q = batch[i]
                with self._lock:
                    if i in done:
                        return
                    done.add(i)
                    if isinstance(res, Exception):
                        errors.append((q, res))
                        return
                    item = CachedRewrite(res.text, inference_text(res.text, self.think), res.prompt_tokens, res.completion_tokens)
                    self.cache.put(k, model_id, q.text, item)
                    found[k] = item
                    self.stats.generated += 1
                    self.stats.prompt_tokens += res.prompt_tokens
                    self.stats.completion_tokens += res.completion_tokens

            results = self.backend.generate([self.messages(q.text) for _, q in batch], sampling, on_result=store)
            for i, res in enumerate(results):  # backends that do not stream results are stored here
                store(i, res)
            if self.prices:
                self.stats.cost_usd = (self.stats.prompt_tokens * self.prices[0] + self.stats.completion_tokens * self.prices[1]) / 1e6
            if errors:
                q, exc = errors[0]
                raise BrightEvalError(f"rewriter '{self.name}' failed on query {q.task}/{q.id} ({exc}); the "
                                      f"{self.stats.generated} rewrites finished so far are cached, rerun to continue")

    def rewrite(self, queries: list[Query]) -> list[str]:
        keys = [self._key(q.text) for q in queries]
        found = self.cache.get_many(list(dict.fromkeys(keys)))
        todo: dict[str, Query] = {}
        for k, q in zip(keys, queries):
            if k not in found and k not in todo:
                todo[k] = q
        self.stats.from_cache += sum(1 for k in keys if k in found)
        if todo:
            self._generate(list(todo.items()), found)
        texts = []
        for k, q in zip(keys, queries):
            completion = found[k].completion
            text = inference_text(completion, self.think)  # parsed on read: the stored column is informational
            if text.strip() and self.think and think_answer(completion) is None:
                self.stats.failed[f"{q.task}/{q.id}"] = "no <think>..</think> <answer>..</answer>: raw completion used (as released)"
            texts.append(text)
        return compose_each(self.name, queries, texts, self.compose_mode, self.stats, empty="empty completion")
