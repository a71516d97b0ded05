"""OpenAI-compatible chat completions (OpenAI itself, `vllm serve`, llama.cpp's server, any compatible one).

What is sent (`wire`): every decoding parameter the server can take, so its own defaults never
decide the text. The OpenAI API itself accepts temperature, top_p, max_tokens, seed and the
presence/frequency penalties, and rejects unknown fields; top_k, the repetition penalty and stop
token ids are sent only to other servers, as extra body fields: vLLM reads `top_k`,
`repetition_penalty` and `stop_token_ids` and ignores unknown fields; llama.cpp's server reads
`top_k` and `repeat_penalty` (its name for the same penalty). What could not be sent is recorded
(`omitted`) in the rewriter's spec.

Concurrency: `concurrency` daemon worker threads each send one request at a time, and each reply is
handed to `on_result` as it arrives (the rewriter caches it there). Ctrl-C: the main thread waits
in short slices (a SIGINT whose C handler ran on a worker thread does not wake a lock wait, so an
unbounded wait would notice it only at the next reply), then sets `stop`: no worker sends another
request or retry, the replies in flight get `interrupt_grace` seconds to arrive and be cached, and
the workers, being daemons, never hold up the exit.
429, 5xx, timeouts and dropped connections are retried with exponential back-off and jitter; other
errors (bad key, unknown model) fail at once. After the last try the item carries the exception,
which the rewriter reports with the query it belongs to.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import threading
import time

from bright_eval.errors import BrightEvalError, require

from .llm import Generation

log = logging.getLogger(__name__)
WAKE_S = 0.2  # the main thread's longest uninterrupted wait

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
        self.interrupt_grace = min(2.0, timeout)  # seconds the replies in flight at Ctrl-C get to arrive
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

    def _one(self, messages: list[dict], kwargs: dict, stop: threading.Event | None = None) -> Generation | Exception:
        client = self._get_client()
        last: Exception | None = None
        stop = stop or threading.Event()
        for attempt in range(self.max_retries + 1):
            if stop.is_set():  # interrupted: a retry is a new request, and none is sent after Ctrl-C
                return KeyboardInterrupt()
            try:
                r = client.chat.completions.create(model=self.model, messages=messages, **kwargs)
                usage = r.usage
                return Generation(r.choices[0].message.content or "", getattr(usage, "prompt_tokens", 0) or 0,
                                  getattr(usage, "completion_tokens", 0) or 0)
            except Exception as exc:  # noqa: BLE001 - classified just below
                last = exc
                if not self._retryable(exc) or attempt == self.max_retries:
                    break
                stop.wait(self.backoff * (2 ** attempt) * (0.5 + random.random() / 2))
        tries = attempt + 1
        return RuntimeError(f"{type(last).__name__} after {tries} tr{'y' if tries == 1 else 'ies'}: {str(last)[:160]}")

    def generate(self, conversations: list[list[dict]], sampling: dict, on_result=None) -> list[Generation | Exception]:
        """`on_result(i, result)` is called as each reply arrives (in the worker thread that got it)."""
        self._get_client()  # a missing key fails here, once, before any request
        kwargs = {k: v for k, v in self.wire(sampling).items() if k != "omitted"}
        results: list[Generation | Exception] = [RuntimeError("not sent")] * len(conversations)
        todo = iter(range(len(conversations)))
        take = threading.Lock()
        stop = threading.Event()
        events: queue.SimpleQueue = queue.SimpleQueue()  # index done, or an exception raised by on_result

        def worker() -> None:
            while not stop.is_set():
                with take:
                    i = next(todo, None)
                if i is None:
                    return
                res = self._one(conversations[i], kwargs, stop)
                if isinstance(res, KeyboardInterrupt):
                    return  # stopped before sending
                results[i] = res
                try:
                    if on_result is not None:
                        on_result(i, res)
                except Exception as exc:  # noqa: BLE001 - a cache write that failed: raised in the main thread
                    events.put(exc)
                    return
                events.put(i)

        workers = [threading.Thread(target=worker, daemon=True, name=f"openai-{n}")
                   for n in range(min(self.concurrency, len(conversations)))]
        try:
            for w in workers:  # inside the try: Ctrl-C while the first workers already send must stop them too
                w.start()
            self._wait(workers, events, len(conversations))
        except KeyboardInterrupt:
            stop.set()
            self._grace(workers)
            raise
        except BaseException:
            stop.set()
            raise
        return results

    @staticmethod
    def _wait(workers: list[threading.Thread], events: queue.SimpleQueue, n: int) -> None:
        """Until every item is done, in slices of WAKE_S; each worker ends after its last request's
        own timeout and retries, so this ends too."""
        done = 0
        while done < n:
            try:
                ev = events.get(timeout=WAKE_S)
            except queue.Empty:
                if not any(w.is_alive() for w in workers) and events.empty():
                    return
                continue
            if isinstance(ev, BaseException):
                raise ev
            done += 1

    def _grace(self, workers: list[threading.Thread]) -> None:
        """Give the requests in flight `interrupt_grace` seconds to deliver their replies (each one is
        cached as it arrives); a second Ctrl-C leaves at once."""
        busy = [w for w in workers if w.is_alive()]
        if not busy or self.interrupt_grace <= 0:
            return
        log.warning("interrupted: no new requests; waiting up to %.0f s for %d in flight (Ctrl-C again to leave now)",
                    self.interrupt_grace, len(busy))
        deadline = time.monotonic() + self.interrupt_grace
        for w in busy:
            w.join(max(0.0, deadline - time.monotonic()))
