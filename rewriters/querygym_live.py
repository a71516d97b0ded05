"""`qg:<method>`: QueryGym's own reformulation methods (PyPI `querygym`, the `querygym` extra), run
through our OpenAI-compatible backend, with our rewrite cache, cost accounting and resume.

How the adapter maps QueryGym (paths in the installed package, 0.3.0):
- A method is a class in `querygym.core.registry.METHODS` (core/registry.py:5-13), built as
  `Method(MethodConfig, llm_client, PromptBank)` (core/runner.py:35-38) and called per query with
  `reformulate(QueryItem, contexts)` (core/base.py:131-146); we call it the same way, one query per
  worker thread, with the prompt bank the package ships (prompt_bank.yaml).
- The LLM client it expects is `OpenAICompatibleClient` (core/llm.py:7-62): `.model` and
  `.chat(messages, **kw) -> str`. `CachedChat` stands in for it; CSQE also calls
  `llm.client.chat.completions.create(model=, messages=, n=, ...)` directly (methods/csqe.py:44-66),
  so `CachedChat.client` answers that too, `n` being n separate requests (the same distribution;
  our backend asks for one choice per request).
- Every chat request goes through `OpenAIBackend` (retries, back-off) and is cached in the rewrite
  cache as soon as it returns, keyed by the model identity, the messages, the sampling arguments the
  method passed and the request's occurrence within that query's reformulation (methods that sample
  the same prompt several times, e.g. LameR's `gen_passages` loop at methods/lamer.py:32-36, get
  distinct cached replies). A rerun replays cached replies, so an interrupted run resumes; the
  final text per query is cached as well, so a finished set is known without running anything.
- `MethodConfig.llm` holds model, temperature and max_tokens (core/base.py:48-72); an option left
  unset keeps the method's own default (e.g. methods/lamer.py:27-28: 128 tokens, temperature 1.0).
- Methods that read retrieved documents (`REQUIRES_CONTEXT`, core/base.py:93; LameR, CSQE) get
  their contexts from our own first stage (`first_stage`, BM25 by default, over the task's corpus,
  searched with the original queries): the `ReadsDocuments` capability, which execute runs once per
  (first stage, task) and whose spec enters the cell identity. QueryGym's own searcher path
  (core/base.py:236-330) is never used: `reformulate` receives the contexts directly.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

from bright_eval.cache import ArtifactCache
from bright_eval.errors import BrightEvalError, require
from bright_eval.io import fingerprint_of

from . import Query, RewriteStats
from .cache import CachedRewrite, RewriteCache

VERSION = "0.3.0"  # the querygym release this adapter was written against (the extra pins it)
# querygym.core.registry.METHODS of 0.3.0, listed here so `bright-eval rewriters` needs no import.
METHODS = ("genqr", "genqr_ensemble", "query2doc", "qa_expand", "mugi", "lamer", "query2e", "csqe", "thinkqe", "reformer")
CONTEXT_METHODS = ("lamer", "csqe")  # REQUIRES_CONTEXT = True (methods/lamer.py:10, methods/csqe.py:24)
CACHE_KEY_VERSION = 1


def _querygym():
    qg = require("querygym", "querygym", "QueryGym's reformulation methods")
    require("pandas", "querygym", "QueryGym (it imports pandas without declaring it)")
    return qg


class CachedChat:
    """QueryGym's LLM client, answered from the cache or our backend (module docstring)."""

    def __init__(self, owner: QueryGymRewriter):
        self.owner = owner
        self.model = owner.backend.model
        self.local = threading.local()  # per-query occurrence counts: one query per thread
        self.client = SimpleNamespace(chat=SimpleNamespace(completions=SimpleNamespace(create=self._create)))

    def chat(self, messages: list[dict], **kw) -> str:
        return self.owner.complete(messages, kw, self._occurrence(messages, kw))

    def _create(self, model: str, messages: list[dict], n: int = 1, **kw):
        texts = [self.owner.complete(messages, kw, self._occurrence(messages, kw)) for _ in range(n)]
        return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content=t)) for t in texts])

    def _occurrence(self, messages: list[dict], kw: dict) -> int:
        counts = self.local.__dict__.setdefault("counts", {})
        k = fingerprint_of({"m": messages, "kw": kw})
        counts[k] = counts.get(k, 0) + 1
        return counts[k] - 1

    def start_query(self) -> None:
        self.local.counts = {}


class QueryGymRewriter:
    def __init__(self, method: str, backend, params: dict, llm: dict, cache: ArtifactCache | None = None, concurrency: int = 8,
                 prices: tuple[float, float] | None = None, first_stage: str | None = None, context_k: int = 10):
        self.method, self.backend, self.params, self.llm = method, backend, params, llm
        self.name = f"qg:{method}"
        self.cache = RewriteCache((cache or ArtifactCache()).root / "rewrites" / "rewrites.sqlite")
        self.concurrency, self.prices = concurrency, prices
        self.stats = RewriteStats()
        self._lock = threading.Lock()
        self.context_retriever = first_stage or ""
        self.context_k = context_k
        self._context_spec: dict | None = None

    # -- identity ---------------------------------------------------------------------------------
    def spec(self) -> dict:
        out = {"name": self.name, "kind": "querygym", "querygym": VERSION, "method": self.method, "params": self.params,
               "llm": {**self.llm, **self.backend.describe()}}
        if self.context_retriever:
            out["context"] = {"retriever": self._context_spec or self.context_retriever, "k": self.context_k}
        return out

    def set_context_spec(self, spec: dict) -> None:
        """The first stage's own spec (k1, b, analyzer...), given by the orchestrator once created."""
        self._context_spec = spec

    def _final_key(self, q: Query, contexts: list[str] | None) -> str:
        return fingerprint_of({"v": CACHE_KEY_VERSION, "final": self.spec(), "query": q.text, "contexts": contexts})

    # -- the LLM --------------------------------------------------------------------------------------
    def complete(self, messages: list[dict], kw: dict, occurrence: int) -> str:
        ident = self.backend.describe()
        key = fingerprint_of({"v": CACHE_KEY_VERSION, "model": ident, "messages": messages, "kw": kw, "occurrence": occurrence})
        found = self.cache.get_many([key]).get(key)
        if found is not None:
            return found.completion
        sampling = {"temperature": kw.get("temperature", 1.0), "max_tokens": kw.get("max_tokens")}
        res = self.backend.generate([messages], sampling)[0]
        if isinstance(res, Exception):
            raise BrightEvalError(f"rewriter '{self.name}': request failed ({res}); the replies so far are cached, rerun to continue")
        self.cache.put(key, str(ident.get("model")), str(messages[-1].get("content", ""))[:200], CachedRewrite(res.text, res.text, res.prompt_tokens,
                                                                                                                 res.completion_tokens))
        with self._lock:
            self.stats.prompt_tokens += res.prompt_tokens
            self.stats.completion_tokens += res.completion_tokens
            if self.prices:
                self.stats.cost_usd = (self.stats.prompt_tokens * self.prices[0] + self.stats.completion_tokens * self.prices[1]) / 1e6
        return res.text

    def _reformulator(self):
        from pathlib import Path

        qg = _querygym()
        from querygym.core.base import MethodConfig
        from querygym.core.prompts import PromptBank
        from querygym.core.registry import METHODS as QG_METHODS

        if qg.__version__ != VERSION:
            import logging

            logging.getLogger(__name__).warning("querygym %s is installed; this adapter was written against %s", qg.__version__, VERSION)
        cfg = MethodConfig(name=self.method, params=dict(self.params), llm={"model": self.backend.model, **self.llm})
        chat = CachedChat(self)
        return QG_METHODS[self.method](cfg, chat, PromptBank(Path(qg.__file__).parent / "prompt_bank.yaml")), chat

    # -- rewriting ------------------------------------------------------------------------------------
    def is_cached(self, queries: list[Query]) -> bool:
        if self.context_retriever:
            return False  # the key needs the contexts, known only after the first stage
        keys = list(dict.fromkeys(self._final_key(q, None) for q in queries))
        return len(self.cache.get_many(keys)) == len(keys)

    def rewrite(self, queries: list[Query]) -> list[str]:
        if self.context_retriever:
            raise BrightEvalError(f"rewriter '{self.name}' reads retrieved documents: run it through `bright-eval run`/`matrix`, "
                                  "which searches its first stage")
        return self.rewrite_with_context(queries, {})

    def rewrite_with_context(self, queries: list[Query], contexts: dict[str, list[str]]) -> list[str]:
        ctx = {q.id: contexts.get(q.id) if self.context_retriever else None for q in queries}
        keys = [self._final_key(q, ctx[q.id]) for q in queries]
        found = self.cache.get_many(list(dict.fromkeys(keys)))
        todo = [(k, q) for k, q in dict(zip(keys, queries)).items() if k not in found]
        self.stats.from_cache += len(queries) - len(todo)
        if todo:
            from querygym.core.base import QueryItem

            method, chat = self._reformulator()

            def one(item: tuple[str, Query]) -> None:
                k, q = item
                chat.start_query()
                try:
                    result = method.reformulate(QueryItem(q.id, q.text), ctx[q.id])
                except BrightEvalError:
                    raise
                except Exception as exc:  # noqa: BLE001 - QueryGym's own errors, named with the query
                    raise BrightEvalError(f"rewriter '{self.name}' failed on {q.task}/{q.id}: {type(exc).__name__}: {exc}") from None
                self.cache.put(k, self.name, q.text, CachedRewrite(result.reformulated, result.reformulated))
                found[k] = CachedRewrite(result.reformulated, result.reformulated)
                with self._lock:
                    self.stats.generated += 1

            with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
                for _ in pool.map(one, todo):
                    pass
        out = []
        for k, q in zip(keys, queries):
            text = found[k].completion
            if not text.strip():
                self.stats.failed[f"{q.task}/{q.id}"] = "empty reformulation: original query used"
                text = q.text
            out.append(text)
        return out
