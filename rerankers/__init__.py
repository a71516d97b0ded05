"""Rerankers: `rerank(queries, run, corpus, depth) -> run`, re-scoring the top `depth` documents of
a first-stage run; the rest keep their first-stage order below them (rerankers/base.py).

Every name resolves through `RERANKERS`; torch and sentence-transformers load only when a model is
used, so listing the registry stays fast.
"""

from __future__ import annotations

from bright_eval.cache import ArtifactCache
from bright_eval.components import Reranker
from bright_eval.option_types import Backend, Count, LocalBackend, NonNegative, OpenFraction, Quantize, Retries
from bright_eval.registry import Registry

from .llm import LLM_OPERATIONAL

__all__ = ["Reranker", "RERANKERS"]

RERANKERS: Registry[Reranker] = Registry("reranker", Reranker, "bright_eval.rerankers")

# -- cross-encoders ---------------------------------------------------------------------------------
CROSS_ENCODERS = {
    "ms-marco-minilm-l6": ("cross-encoder/ms-marco-MiniLM-L-6-v2", "MS MARCO MiniLM-L6 cross-encoder (BRIGHT's reranking table)"),
    "ms-marco-minilm-l12": ("cross-encoder/ms-marco-MiniLM-L-12-v2", "MS MARCO MiniLM-L12 cross-encoder"),
    "bge-reranker-base": ("BAAI/bge-reranker-base", "BGE reranker base (XLM-R base cross-encoder)"),
    "bge-reranker-large": ("BAAI/bge-reranker-large", "BGE reranker large (XLM-R large cross-encoder)"),
    "bge-reranker-v2-m3": ("BAAI/bge-reranker-v2-m3", "BGE reranker v2 m3 (multilingual, 8k tokens)"),
}
CE_OPERATIONAL = ("batch_size", "device", "backend")  # an fp32 backend scores as torch does (tests/test_backends.py)


def _ce(model_id: str, cache: ArtifactCache | None = None, max_length: Count | None = None, revision: str | None = None, batch_size: Count = 8,
        device: str | None = None, backend: Backend = "torch", quantize: Quantize = "none") -> Reranker:
    from .cross_encoder import CrossEncoderReranker

    return CrossEncoderReranker(model_id, max_length=max_length, revision=revision, batch_size=batch_size, device=device, backend=backend,
                                quantize=quantize, cache=cache)


def _ce_named(model_id: str):
    def make(cache: ArtifactCache | None = None, max_length: Count | None = None, revision: str | None = None, batch_size: Count = 8,
             device: str | None = None, backend: Backend = "torch", quantize: Quantize = "none") -> Reranker:
        return _ce(model_id, cache=cache, max_length=max_length, revision=revision, batch_size=batch_size, device=device, backend=backend,
                   quantize=quantize)

    return make


for _name, (_hub, _desc) in CROSS_ENCODERS.items():
    RERANKERS.register(_name, f"{_desc}: {_hub}, sentence-transformers CrossEncoder",
                       operational=CE_OPERATIONAL)(_ce_named(_hub))

RERANKERS.register("ce", "any sentence-transformers cross-encoder: ce:<hub id or local folder>", prefix=True,
                   operational=CE_OPERATIONAL)(_ce)


# -- BRIGHT's LLM reranker --------------------------------------------------------------------------
def _bright_llm(ref: str, cache: ArtifactCache | None = None, temperature: NonNegative = 0.8, top_p: OpenFraction = 0.8, max_new_tokens: Count = 2048,
                doc_max_words: Count | None = None, revision: str | None = None, base_url: str | None = None, backend: LocalBackend = "auto",
                concurrency: Count | None = None, max_retries: Retries | None = None, batch_size: Count | None = None,
                tensor_parallel_size: Count | None = None) -> Reranker:
    from bright_eval.components import RewriteStats

    from .bright_llm import BrightLLMReranker
    from .llm import Completer, make_backend, make_decoding

    who = f"llm:{ref}"
    be, prices, batch = make_backend(ref, who, backend=backend, revision=revision, base_url=base_url, concurrency=concurrency,
                                     max_retries=max_retries, tensor_parallel_size=tensor_parallel_size, batch_size=batch_size)
    done = Completer(who, be, make_decoding(max_new_tokens, temperature, top_p), cache, RewriteStats(), prices, batch)
    return BrightLLMReranker(who, done, doc_max_words=doc_max_words)


RERANKERS.register("llm", "BRIGHT's listwise LLM reranker (rerank.py: one prompt, JSON list of ids): llm:openai:<model> | "
                   "llm:hf:<hub id | folder | file.gguf | smollm2-135m-instruct>", prefix=True, operational=LLM_OPERATIONAL)(_bright_llm)


def _bright_api(model: str):
    def make(cache: ArtifactCache | None = None, temperature: NonNegative = 0.8, top_p: OpenFraction = 0.8, max_new_tokens: Count = 2048,
             doc_max_words: Count | None = None, base_url: str | None = None, concurrency: Count | None = None,
             max_retries: Retries | None = None) -> Reranker:
        return _bright_llm(f"openai:{model}", cache=cache, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens,
                           doc_max_words=doc_max_words, base_url=base_url, concurrency=concurrency, max_retries=max_retries)

    return make


for _model in ("gpt-4o", "gpt-4o-mini"):
    RERANKERS.register(_model, f"BRIGHT's LLM reranker with OpenAI {_model} (= llm:openai:{_model})",
                       operational=LLM_OPERATIONAL)(_bright_api(_model))


# -- RankGPT sliding window -------------------------------------------------------------------------
@RERANKERS.register("rankgpt", "RankGPT listwise sliding window (window 20, step 10): rankgpt:openai:<model> | rankgpt:hf:<model>",
                    prefix=True, operational=LLM_OPERATIONAL)
def _rankgpt(ref: str, cache: ArtifactCache | None = None, window: Count = 20, step: Count = 10, doc_max_words: Count = 300,
             temperature: NonNegative = 0.0, max_new_tokens: Count = 256, revision: str | None = None, base_url: str | None = None,
             backend: LocalBackend = "auto", concurrency: Count | None = None, max_retries: Retries | None = None, batch_size: Count | None = None,
             tensor_parallel_size: Count | None = None) -> Reranker:
    from bright_eval.components import RewriteStats

    from .listwise import ListwiseReranker
    from .llm import Completer, make_backend, make_decoding

    who = f"rankgpt:{ref}"
    be, prices, batch = make_backend(ref, who, backend=backend, revision=revision, base_url=base_url, concurrency=concurrency,
                                     max_retries=max_retries, tensor_parallel_size=tensor_parallel_size, batch_size=batch_size)
    # RankGPT decodes greedily (rank_gpt.py:186, temperature=0) and sets no top_p.
    done = Completer(who, be, make_decoding(max_new_tokens, temperature, 1.0), cache, RewriteStats(), prices, batch)
    return ListwiseReranker(who, done, window=window, step=step, doc_max_words=doc_max_words)


# -- pointwise yes/no log-probability ---------------------------------------------------------------
YESNO_OPERATIONAL = ("batch_size", "device")


@RERANKERS.register("yesno", "pointwise log P(yes) of a local chat LM (Qwen3-Reranker's prompt): "
                    "yesno:<hub id | folder | file.gguf | smollm2-135m-instruct>", prefix=True, operational=YESNO_OPERATIONAL)
def _yesno(model: str, cache: ArtifactCache | None = None, instruction: str | None = None, doc_max_tokens: Count = 512,
           revision: str | None = None, batch_size: Count = 8, device: str | None = None) -> Reranker:
    from .pointwise import INSTRUCTION, YesNoReranker

    return YesNoReranker(model, cache=cache, instruction=instruction or INSTRUCTION, doc_max_tokens=doc_max_tokens,
                         revision=revision, batch_size=batch_size, device=device)


def _qwen3(hub_id: str):
    def make(cache: ArtifactCache | None = None, instruction: str | None = None, doc_max_tokens: Count = 8192,
             revision: str | None = None, batch_size: Count = 8, device: str | None = None) -> Reranker:
        from .pointwise import INSTRUCTION, YesNoReranker

        # The model card's prompt ends with an empty think block after the assistant header.
        return YesNoReranker(hub_id, cache=cache, instruction=instruction or INSTRUCTION, answer_prefix="<think>\n\n</think>\n\n",
                             doc_max_tokens=doc_max_tokens, revision=revision, batch_size=batch_size, device=device)

    return make


for _size in ("0.6B", "4B", "8B"):
    RERANKERS.register(f"qwen3-reranker-{_size.lower()}", f"Qwen/Qwen3-Reranker-{_size}: P(yes) with its model card's prompt",
                       operational=YESNO_OPERATIONAL)(_qwen3(f"Qwen/Qwen3-Reranker-{_size}"))


# -- dense re-scoring -------------------------------------------------------------------------------
@RERANKERS.register("embed", "cosine of a dense retriever's query and document embeddings (two-stage sparse -> dense): "
                    "embed:<dense retriever, e.g. all-minilm-l6-v2>", prefix=True, operational=("batch_size", "device", "backend"))
def _embed(retriever: str, cache: ArtifactCache | None = None, batch_size: Count | None = None, device: str | None = None,
           backend: Backend = "torch", quantize: Quantize = "none") -> Reranker:
    from bright_eval.errors import BrightEvalError
    from bright_eval.retrievers import RETRIEVERS
    from bright_eval.retrievers.dense import DenseRetriever

    from .embedding import EmbeddingReranker

    encoder = {k: v for k, v in dict(batch_size=batch_size, device=device, backend=backend, quantize=quantize).items() if v is not None}
    if not isinstance(RETRIEVERS.create(retriever, cache=cache), DenseRetriever):  # checked first: bm25 would refuse the options
        raise BrightEvalError(f"reranker 'embed:{retriever}': '{retriever}' is not a sentence-transformers dense retriever "
                              f"(see `bright-eval retrievers`)")
    return EmbeddingReranker(RETRIEVERS.create(retriever, cache=cache, **encoder))
