"""Retrievers: `index(corpus)` then `search(queries, k, exclude) -> run` ({qid: {docid: score}}).

Each name resolves through `RETRIEVERS`; model-backed retrievers import their heavy libraries only
when created, so the core (BM25) never needs torch.
"""

from __future__ import annotations

from bright_eval.cache import ArtifactCache
from bright_eval.components import Retriever
from bright_eval.option_types import Backend, Count, Fraction, FusionNorm, NonNegative, Positive, Quantize, Retries
from bright_eval.registry import Registry

__all__ = ["Retriever", "RETRIEVERS"]

RETRIEVERS: Registry[Retriever] = Registry("retriever", Retriever, "bright_eval.retrievers")


@RETRIEVERS.register("bm25", "BRIGHT's BM25: Lucene English analyzer + gensim LuceneBM25Model (k1=0.9, b=0.4), BM25-weighted query side")
def _bm25(cache: ArtifactCache | None = None, k1: NonNegative = 0.9, b: Fraction = 0.4) -> Retriever:
    from .bm25 import BM25Retriever

    return BM25Retriever(flavour="bright", cache=cache, k1=k1, b=b)


@RETRIEVERS.register("bm25-lucene", "Anserini/Lucene BM25 (k1=0.9, b=0.4): query terms weighted by count, float32, one-byte length norms")
def _bm25_lucene(cache: ArtifactCache | None = None, k1: NonNegative = 0.9, b: Fraction = 0.4) -> Retriever:
    from .bm25 import BM25Retriever

    return BM25Retriever(flavour="lucene", name="bm25-lucene", cache=cache, k1=k1, b=b)


# Dense options are DenseRetriever's keyword arguments; the operational ones change speed, not scores
# (an fp32 backend computes torch's numbers: tests/test_backends.py). batch_size None: from the max length.
DENSE_OPERATIONAL = ("batch_size", "device", "devices", "shard_size", "backend")


# -- dense models (retrievers/dense_models.py holds the table; torch loads only when one is created) --
def _dense_factory(model_name: str):
    def make(cache: ArtifactCache | None = None, batch_size: Count | None = None, device: str | None = None, devices: list[str] | None = None,
             revision: str | None = None, query_max_length: Count | None = None, doc_max_length: Count | None = None,
             shard_size: Count = 2048, backend: Backend = "torch", quantize: Quantize = "none") -> Retriever:
        from .dense import DenseRetriever
        from .dense_models import BY_NAME

        params = dict(batch_size=batch_size, device=device, devices=devices, revision=revision, query_max_length=query_max_length,
                      doc_max_length=doc_max_length, shard_size=shard_size, backend=backend, quantize=quantize)
        model = BY_NAME[model_name]
        if model.encoder == "grit":
            from .grit import GritRetriever

            return GritRetriever(model, cache=cache, **params)
        return DenseRetriever(model, cache=cache, **params)

    return make


def _register_dense() -> None:
    from .dense_models import MODELS

    for m in MODELS:
        seen_as = f" (BRIGHT: {m.reported_as})" if m.reported_as else ""
        RETRIEVERS.register(m.name, f"dense {m.model_id}{seen_as}, BRIGHT's instructions and lengths",
                            operational=DENSE_OPERATIONAL)(_dense_factory(m.name))


_register_dense()


@RETRIEVERS.register("st", "any sentence-transformers model: st:<hub id or local folder> (no instruction, cosine)", prefix=True,
                     operational=DENSE_OPERATIONAL)
def _st(model_id: str, cache: ArtifactCache | None = None, batch_size: Count | None = None, device: str | None = None,
        devices: list[str] | None = None, revision: str | None = None, query_max_length: Count | None = None,
        doc_max_length: Count | None = None, shard_size: Count = 2048, backend: Backend = "torch", quantize: Quantize = "none") -> Retriever:
    from .dense import DenseRetriever
    from .dense_models import any_model

    return DenseRetriever(any_model(model_id), cache=cache, batch_size=batch_size, device=device, devices=devices, revision=revision,
                          query_max_length=query_max_length, doc_max_length=doc_max_length, shard_size=shard_size, backend=backend,
                          quantize=quantize)


# -- hybrids (retrievers/fusion.py) ----------------------------------------------------------------
@RETRIEVERS.register("fuse", "hybrid of two or more retrievers: fuse:rrf(bm25,bge-large-en-v1.5) (reciprocal rank, k=60) or "
                     "fuse:interp(a,b) (normalised score sum; norm=min-max|z-score|none, weights=[..]); each child "
                     "taken `depth` deep (default: the search's k)", prefix=True)
def _fuse(arg: str, cache: ArtifactCache | None = None, k: NonNegative = 60, weights: list[float] | None = None,
          norm: FusionNorm = "min-max", depth: Count | None = None) -> Retriever:
    from .fusion import make

    return make(arg, cache=cache, k=k, weights=weights, norm=norm, depth=depth)


# -- API embedders (retrievers/api_embed.py): BRIGHT's OpenAI, Cohere, Voyage and Google rows ------
API_OPERATIONAL = ("batch_size", "base_url", "max_retries", "retry_wait", "timeout", "shard_size")


def _api_factory(model_name: str):
    def make(cache: ArtifactCache | None = None, batch_size: Count | None = None, base_url: str | None = None, max_retries: Retries = 8,
             retry_wait: NonNegative = 2.0, timeout: Positive = 120.0, shard_size: Count = 4096) -> Retriever:
        from .api_embed import API_BY_NAME, ApiEmbedRetriever

        return ApiEmbedRetriever(API_BY_NAME[model_name], cache=cache, batch_size=batch_size, base_url=base_url, max_retries=max_retries,
                                 retry_wait=retry_wait, timeout=timeout, shard_size=shard_size)

    return make


def _register_api() -> None:
    from .api_embed import API_MODELS

    for m in API_MODELS:
        RETRIEVERS.register(m.name, f"API embedder {m.provider}/{m.model} (BRIGHT: {m.reported_as}); key from "
                            f"{' or '.join(m.key_env)}; embeddings cached, cost tallied",
                            operational=API_OPERATIONAL)(_api_factory(m.name))


_register_api()
