"""OpenAI-compatible chat completions (OpenAI itself, `vllm serve`, any compatible server).

Concurrency is bounded by a thread pool; 429, 5xx, timeouts and dropped connections are retried with
exponential back-off and jitter; other errors (bad key, unknown model) fail at once. After the last
try the item carries the exception, which the rewriter reports with the query it belongs to.
"""

from __future__ import annotations

import os
import random
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

from bright_eval.errors import BrightEvalError, require

from .llm import Decoding, Generation

# USD per 1M tokens (prompt, completion), from OpenAI's pricing page (openai.com/api/pricing) as
# listed in 2025; the results file records tokens too, so costs can be recomputed.
PRICES = {"gpt-4o": (2.50, 10.00), "gpt-4o-mini": (0.15, 0.60)}


class OpenAIBackend:
    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None, concurrency: int = 8,
                 max_retries: int = 6, timeout: float = 120.0, backoff: float = 1.0):
        self.model = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY")
        if not self.api_key:
            if self.base_url is None:
                raise BrightEvalError(f"rewriter '{model}' calls the OpenAI API: set OPENAI_API_KEY (or --base-url for a compatible server)")
            self.api_key = "EMPTY"  # `vllm serve` and most local servers accept any key
        self.concurrency, self.max_retries, self.timeout, self.backoff = concurrency, max_retries, timeout, backoff
        self._client = None

    def describe(self) -> dict:
        return {"backend": "openai-compatible", "model": self.model, "revision": None, "base_url": self.base_url}

    def _get_client(self):
        if self._client is None:
            openai = require("openai", "api", "the OpenAI-compatible backend")
            # Our own retry loop: the SDK's would hide attempts from the back-off policy and the report.
            self._client = openai.OpenAI(base_url=self.base_url, api_key=self.api_key, max_retries=0, timeout=self.timeout)
        return self._client

    def _retryable(self, exc: Exception) -> bool:
        import openai

        if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError)):
            return True
        return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500

    def _one(self, messages: list[dict], decoding: Decoding) -> Generation | Exception:
        client = self._get_client()
        last: Exception | None = None
        for attempt in range(self.max_retries + 1):
            try:
                r = client.chat.completions.create(model=self.model, messages=messages, temperature=decoding.temperature,
                                                   top_p=decoding.top_p, max_tokens=decoding.max_new_tokens)
                usage = r.usage
                return Generation(r.choices[0].message.content or "", getattr(usage, "prompt_tokens", 0) or 0,
                                  getattr(usage, "completion_tokens", 0) or 0)
            except Exception as exc:  # noqa: BLE001 - classified just below
                last = exc
                if not self._retryable(exc) or attempt == self.max_retries:
                    break
                time.sleep(self.backoff * (2 ** attempt) * (0.5 + random.random() / 2))
        tries = attempt + 1
        return RuntimeError(f"{type(last).__name__} after {tries} tr{'y' if tries == 1 else 'ies'}: {str(last)[:160]}")

    def generate(self, conversations: list[list[dict]], decoding: Decoding, on_result=None) -> list[Generation | Exception]:
        """`on_result(i, result)` is called as each request finishes, so the caller can cache it at
        once: an interrupted run then loses only the requests in flight."""
        results: list[Generation | Exception] = [RuntimeError("not run")] * len(conversations)
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = {pool.submit(self._one, c, decoding): i for i, c in enumerate(conversations)}
            for fut in as_completed(futures):
                i = futures[fut]
                results[i] = fut.result()
                if on_result is not None:
                    on_result(i, results[i])
        return results
