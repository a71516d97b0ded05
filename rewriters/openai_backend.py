"""OpenAI-compatible chat completions (OpenAI itself, `vllm serve`, llama.cpp's server, any compatible one).

What is sent (`wire`): every decoding parameter the server can take, so its own defaults never
decide the text. The OpenAI API itself accepts temperature, top_p, max_tokens, seed and the
presence/frequency penalties, and rejects unknown fields; top_k, the repetition penalty and stop
token ids are sent only to other servers, as extra body fields: vLLM reads `top_k`,
`repetition_penalty` and `stop_token_ids` and ignores unknown fields; llama.cpp's server reads
`top_k` and `repeat_penalty` (its name for the same penalty). What could not be sent is recorded
(`omitted`) in the rewriter's spec.

Concurrency: at most `concurrency` requests are in flight and the next is submitted only when one
finishes, so Ctrl-C stops sending at once; each reply is handed to `on_result` as it arrives (the
rewriter caches it there), including replies of requests already in flight when Ctrl-C came.
429, 5xx, timeouts and dropped connections are retried with exponential back-off and jitter; other
errors (bad key, unknown model) fail at once. After the last try the item carries the exception,
which the rewriter reports with the query it belongs to.
"""

from __future__ import annotations

import os
import random
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from bright_eval.errors import BrightEvalError, require

from .llm import Generation

# USD per 1M tokens (prompt, completion), from OpenAI's pricing page (openai.com/api/pricing) as
# listed in 2025; the results file records tokens too, so costs can be recomputed.
PRICES = {"gpt-4o": (2.50, 10.00), "gpt-4o-mini": (0.15, 0.60), "gpt-4.1": (2.00, 8.00)}


OPENAI_URL = "https://api.openai.com/v1"


class OpenAIBackend:
    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None, concurrency: int = 8,
                 max_retries: int = 6, timeout: float = 120.0, backoff: float = 1.0):
        self.model = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY")
        self.concurrency, self.max_retries, self.timeout, self.backoff = concurrency, max_retries, timeout, backoff
        self._client = None

    @property
    def is_openai(self) -> bool:
        return self.base_url is None or self.base_url.rstrip("/") == OPENAI_URL

    def describe(self) -> dict:
        # The endpoint is part of the identity: another server behind the same model name is another system.
        return {"backend": "openai-compatible", "model": self.model, "revision": None, "base_url": self.base_url or OPENAI_URL}

    def wire(self, sampling: dict) -> dict:
        """The chat.completions arguments besides model and messages; `omitted`: what OpenAI cannot take."""
        sent = {"temperature": sampling["temperature"], "max_tokens": sampling["max_tokens"]}
        for k in ("top_p", "seed", "presence_penalty", "frequency_penalty"):
            if sampling.get(k) is not None:
                sent[k] = sampling[k]
        extra = {}
        if sampling.get("top_k") is not None:
            extra["top_k"] = sampling["top_k"]
        if sampling.get("repetition_penalty") is not None:
            extra["repetition_penalty"] = extra["repeat_penalty"] = sampling["repetition_penalty"]  # vLLM's / llama.cpp's name
        if sampling.get("stop_token_ids"):
            extra["stop_token_ids"] = list(sampling["stop_token_ids"])
        if self.is_openai:
            omitted = sorted(k for k in extra if k != "repeat_penalty")
            return {**sent, "omitted": omitted} if omitted else sent
        return {**sent, "extra_body": extra} if extra else sent

    def _get_client(self):
        if self._client is None:
            if not self.api_key:
                if self.is_openai:
                    raise BrightEvalError(f"rewriter '{self.model}' calls the OpenAI API: set OPENAI_API_KEY "
                                          "(or --base-url for a compatible server)")
                self.api_key = "EMPTY"  # `vllm serve` and most local servers accept any key
            openai = require("openai", "api", "the OpenAI-compatible backend")
            # Our own retry loop: the SDK's would hide attempts from the back-off policy and the report.
            self._client = openai.OpenAI(base_url=self.base_url, api_key=self.api_key, max_retries=0, timeout=self.timeout)
        return self._client

    def _retryable(self, exc: Exception) -> bool:
        import openai

        if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError)):
            return True
        return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500

    def _one(self, messages: list[dict], kwargs: dict) -> Generation | Exception:
        client = self._get_client()
        last: Exception | None = None
        for attempt in range(self.max_retries + 1):
            try:
                r = client.chat.completions.create(model=self.model, messages=messages, **kwargs)
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

    def generate(self, conversations: list[list[dict]], sampling: dict, on_result=None) -> list[Generation | Exception]:
        """`on_result(i, result)` is called as each reply arrives (in the worker thread that got it)."""
        self._get_client()  # a missing key fails here, once, before any request
        kwargs = {k: v for k, v in self.wire(sampling).items() if k != "omitted"}
        results: list[Generation | Exception] = [RuntimeError("not run")] * len(conversations)

        def finished(i: int, fut) -> None:
            results[i] = fut.result()
            if on_result is not None:
                on_result(i, results[i])

        pool = ThreadPoolExecutor(max_workers=self.concurrency)
        pending: set = set()
        nxt = 0
        try:
            while nxt < len(conversations) or pending:
                # Submit only up to the concurrency window: after Ctrl-C nothing new is sent.
                while nxt < len(conversations) and len(pending) < self.concurrency:
                    fut = pool.submit(self._one, conversations[nxt], kwargs)
                    fut.add_done_callback(lambda f, i=nxt: finished(i, f))
                    pending.add(fut)
                    nxt += 1
                _, pending = wait(pending, return_when=FIRST_COMPLETED)
        finally:
            # Normal end: nothing is pending. Ctrl-C: drop what was not sent; requests in flight still
            # deliver their replies to `on_result` (Python joins the worker threads at exit).
            pool.shutdown(wait=False, cancel_futures=True)
        return results
