"""Retrievers: `index(corpus)` then `search(queries, k, exclude) -> run` ({qid: {docid: score}}).

Each name resolves through `RETRIEVERS`; model-backed retrievers import their heavy libraries only
when created, so the core (BM25) never needs torch.
"""

from __future__ import annotations

from bright_eval.cache import ArtifactCache
from bright_eval.components import Retriever
from bright_eval.registry import Registry

__all__ = ["Retriever", "RETRIEVERS"]

RETRIEVERS: Registry[Retriever] = Registry("retriever")


@RETRIEVERS.register("bm25", "BRIGHT's BM25: Lucene English analyzer + gensim LuceneBM25Model (k1=0.9, b=0.4), BM25-weighted query side")
def _bm25(cache: ArtifactCache | None = None, k1: float = 0.9, b: float = 0.4) -> Retriever:
    from .bm25 import BM25Retriever

    return BM25Retriever(flavour="bright", cache=cache, k1=k1, b=b)


@RETRIEVERS.register("bm25-lucene", "Anserini/Lucene BM25 (k1=0.9, b=0.4): query terms weighted by count, float32, one-byte length norms")
def _bm25_lucene(cache: ArtifactCache | None = None, k1: float = 0.9, b: float = 0.4) -> Retriever:
    from .bm25 import BM25Retriever

    return BM25Retriever(flavour="lucene", name="bm25-lucene", cache=cache, k1=k1, b=b)


# Dense options (DenseRetriever's keyword arguments); the operational ones change speed, not scores.
DENSE_PARAMS = {"batch_size": 32, "device": None, "devices": None, "revision": None, "query_max_length": None,
                "doc_max_length": None, "shard_size": 2048}
DENSE_OPERATIONAL = ("batch_size", "device", "devices", "shard_size")


# -- dense models (retrievers/dense_models.py holds the table; torch loads only when one is created) --
def _dense_factory(model_name: str):
    def make(cache: ArtifactCache | None = None, **params) -> Retriever:
        from .dense import DenseRetriever
        from .dense_models import BY_NAME

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
                            operational=DENSE_OPERATIONAL, params=DENSE_PARAMS)(_dense_factory(m.name))


_register_dense()


@RETRIEVERS.register("st", "any sentence-transformers model: st:<hub id or local folder> (no instruction, cosine)", prefix=True,
                     operational=DENSE_OPERATIONAL, params=DENSE_PARAMS)
def _st(model_id: str, cache: ArtifactCache | None = None, **params) -> Retriever:
    from .dense import DenseRetriever
    from .dense_models import any_model

    return DenseRetriever(any_model(model_id), cache=cache, **params)


# -- hybrids (retrievers/fusion.py) ----------------------------------------------------------------
@RETRIEVERS.register("fuse", "hybrid of two or more retrievers: fuse:rrf(bm25,bge-large-en-v1.5) (reciprocal rank, k=60) or "
                     "fuse:interp(a,b) (normalised score sum; norm=min-max|z-score|none, weights=[..]); each child "
                     "taken `depth` deep (default: the search's k)", prefix=True)
def _fuse(arg: str, cache: ArtifactCache | None = None, k: float = 60, weights: list[float] | None = None,
          norm: str = "min-max", depth: int | None = None) -> Retriever:
    from .fusion import make

    return make(arg, cache=cache, k=k, weights=weights, norm=norm, depth=depth)


# -- API embedders (retrievers/api_embed.py): BRIGHT's OpenAI, Cohere, Voyage and Google rows ------
API_PARAMS = {"batch_size": None, "base_url": None, "max_retries": 8, "retry_wait": 2.0, "timeout": 120.0, "shard_size": 4096}


def _api_factory(model_name: str):
    def make(cache: ArtifactCache | None = None, **params) -> Retriever:
        from .api_embed import API_BY_NAME, ApiEmbedRetriever

        return ApiEmbedRetriever(API_BY_NAME[model_name], cache=cache, **params)

    return make


def _register_api() -> None:
    from .api_embed import API_MODELS

    for m in API_MODELS:
        RETRIEVERS.register(m.name, f"API embedder {m.provider}/{m.model} (BRIGHT: {m.reported_as}); key from "
                            f"{' or '.join(m.key_env)}; embeddings cached, cost tallied",
                            operational=tuple(API_PARAMS), params=API_PARAMS)(_api_factory(m.name))


_register_api()
