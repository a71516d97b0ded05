"""What a rewriter and a retriever are, and the optional capabilities the orchestrator may use.

The orchestrator (plan/execute) talks to components only through these Protocols: a capability is
declared here and checked with `isinstance`, never probed attribute by attribute, so a component
that implements one is used the same way wherever it is planned or run.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from .data import Corpus
    from .trec import Run


@dataclass(frozen=True)
class Query:
    """A query with its task and id: precomputed rewrite sets are keyed by (task, id)."""

    task: str
    id: str
    text: str


@dataclass
class RewriteStats:
    """Counters a rewriter fills in; the results file records them."""

    generated: int = 0
    from_cache: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # "task/id" -> reason
    fallback: int = 0  # queries whose rewrite was empty, so the original query was used instead

    def since(self, before: dict, task: str) -> dict:
        """What one task's rewriting added to these counters (`before`: `asdict` of them earlier)."""
        out = {}
        for f in fields(self):
            now = getattr(self, f.name)
            if f.name == "failed":
                out[f.name] = {k: v for k, v in now.items() if k.startswith(f"{task}/")}
            else:
                out[f.name] = now - before.get(f.name, 0)
        return out
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


@runtime_checkable
class Rewriter(Protocol):
    name: str

    def spec(self) -> dict:
        """What determines the output (model, revision, prompt, decoding, composition)."""

    def rewrite(self, queries: list[Query]) -> list[str]:
        """One text per query, in order."""


@runtime_checkable
class Retriever(Protocol):
    name: str

    def spec(self) -> dict:
        """What determines this retriever's output (for provenance and the cell identity)."""

    def index(self, corpus: Corpus) -> None: ...

    def search(self, queries: dict[str, str], k: int = 1000, exclude: dict[str, set[str]] | None = None) -> Run:
        """Top-k per query, with `exclude[qid]` removed before the cut (BRIGHT's protocol)."""


# -- optional capabilities ------------------------------------------------------------------------
@runtime_checkable
class TaskBound(Protocol):
    """A retriever whose behaviour depends on the task (dense models with BRIGHT's per-task
    instructions). `for_task` returns a bound copy; the original is never mutated, so one created
    retriever can serve every task of a plan."""

    def for_task(self, task: str, long_documents: bool = False) -> Retriever: ...


@runtime_checkable
class Releasable(Protocol):
    """A retriever that can let go of its index once a task is done (the next `index` builds or
    loads the next task's): a multi-task run then peaks at its largest task, not their sum."""

    def release(self) -> None: ...


@runtime_checkable
class IndexParts(Protocol):
    """A retriever that splits its last `index` into parts (BM25: analysing the corpus or loading the
    cached counts, then weighting); the cell that built the index records them beside `index_s`."""

    index_parts: dict[str, float]


@runtime_checkable
class IndexCache(Protocol):
    """A retriever that can say, without loading or building anything, whether its index of the
    corpus with this content fingerprint is cached."""

    def is_cached(self, corpus_fingerprint: str) -> bool: ...


@runtime_checkable
class RewriteCache(Protocol):
    """A rewriter that can say, without generating anything, whether all of `queries` are available."""

    def is_cached(self, queries: list[Query]) -> bool: ...


@runtime_checkable
class SendsRequests(Protocol):
    """A rewriter backed by a language model: it can show the exact requests (chat messages and
    sampling) it would send for `queries`, without loading a model or sending anything."""

    def requests(self, queries: list[Query]) -> list[dict]: ...


@runtime_checkable
class ReadsDocuments(Protocol):
    """A rewriter that reads retrieved documents (pseudo-relevance feedback: QueryGym's LameR, CSQE).
    The orchestrator creates the retriever named `context_retriever` (a retriever spec), tells the
    rewriter its spec (`set_context_spec`, so it enters the rewriter's spec and the cell identity),
    searches the task's corpus with the original queries once per (first stage, task), and hands each
    query the texts of its top `context_k` documents (BRIGHT's exclusions applied)."""

    context_retriever: str
    context_k: int

    def set_context_spec(self, spec: dict) -> None: ...

    def rewrite_with_context(self, queries: list[Query], contexts: dict[str, list[str]]) -> list[str]: ...


@runtime_checkable
class HasStats(Protocol):
    """A rewriter that counts generations, cache hits, failures, tokens and cost."""

    stats: RewriteStats


@runtime_checkable
class RetrieverStats(Protocol):
    """A retriever that tallies requests, tokens and cost (API embedders); results record it per task."""

    stats: dict


@runtime_checkable
class RanWith(Protocol):
    """A component whose numbers more than one engine computes (an fp32 `backend=openvino` computes torch's, and shares
    its name and caches): what ran it, e.g. the exported model's sha256. Results record it as provenance, not identity."""

    def ran_with(self) -> dict: ...


T = TypeVar("T")


def bind(component: T, task: str, long_documents: bool) -> T:
    """A retriever or reranker bound to `task` where it takes one (TaskBound), else itself."""
    return component.for_task(task, long_documents) if isinstance(component, TaskBound) else component


@runtime_checkable
class Reranker(Protocol):
    """Re-scores the top `depth` documents of a first-stage run; documents below `depth` keep their
    first-stage order under the reranked ones, so recall@1000 is unchanged."""

    name: str

    def spec(self) -> dict: ...

    def rerank(self, queries: dict[str, str], run: Run, corpus: Corpus, depth: int) -> Run: ...


@runtime_checkable
class Versioned(Protocol):
    """A source with a revision to record (the hub's commit) and an availability check that fails
    fast, in one line, when the data cannot be had (HubSource; not a local folder)."""

    @property
    def revision_id(self) -> str | None: ...

    def check(self) -> str: ...
