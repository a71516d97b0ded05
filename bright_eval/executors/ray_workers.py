"""What runs on Ray workers: index builds, dense encoding shards and cells.

Workers get names and small values (component refs, the data source, the cache root, a task's
examples, rewritten texts), never created components or API keys: they create their own components
from the refs, read documents from the data source and indexes from the shared cache. A worker
process keeps its last corpora and task-bound retrievers (Ray reuses worker processes for the same
function), so a model or an index is loaded once per process, not once per cell.

A cell's results file is written by `execute._compute`, the local executor's code, so the two
executors produce the same bytes.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import ray

from ..cache import ArtifactCache
from ..components import bind
from ..data import Corpus, DataSource
from ..execute import CellResult, _compute, _err, _Step, load_corpus
from ..plan import Cell, ComponentRef, Plan, Request, TaskData, identity_fingerprint
from ..results import existing
from ..scoring import HEADLINE

MEMO_SIZE = 4  # corpora and retrievers kept per worker process; BRIGHT's largest corpus is ~1 GB of text


@dataclass
class Context:
    """The run-wide values every task needs; small, so sent with each task."""

    request: Request
    source: DataSource
    cache_root: str
    skip_written: bool  # False under --overwrite: a retried cell may then be written twice (same bytes)


@dataclass
class Outcome:
    """What a task hands back: its cells' results and its cache counters (folded into the driver's)."""

    cells: list[CellResult] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)
    builds: dict[str, int] = field(default_factory=dict)
    error: str = ""
    node: str = ""


_memo: OrderedDict[Any, Any] = OrderedDict()


def _remember(key, make):
    if key in _memo:
        _memo.move_to_end(key)
        return _memo[key]
    value = _memo[key] = make()
    while len(_memo) > MEMO_SIZE:
        _memo.popitem(last=False)
    return value


def _corpus(ctx: Context, data: TaskData) -> Corpus:
    plan = _mini_plan(ctx, data, ArtifactCache(ctx.cache_root))
    return _remember(("corpus", repr(ctx.source.description), data.task, ctx.request.long_documents),
                     lambda: load_corpus(plan, data))


def _retriever(ctx: Context, ref: ComponentRef, task: str, cache: ArtifactCache):
    from bright_eval.retrievers import RETRIEVERS

    def make():
        return bind(RETRIEVERS.create(ref.spec, ref.args, cache=cache), task, ctx.request.long_documents)

    bound = _remember(("retriever", ref.spec, repr(sorted(ref.args.items())), task, ctx.cache_root, ctx.request.long_documents), make)
    if hasattr(bound, "cache"):
        bound.cache = cache  # this task's counters, whatever task created the retriever
    return bound


def _mini_plan(ctx: Context, data: TaskData, cache: ArtifactCache, cells: list[Cell] = (), bound=None, rerankers=None) -> Plan:
    """The slice of a plan that `_compute` reads: request, source, bound retriever, rerankers."""
    return Plan(ctx.request, ctx.source, None, cache, list(cells), {data.task: data}, {}, {}, rerankers or {}, bound or {}, {})


def _outcome(cache: ArtifactCache, **kw) -> Outcome:
    return Outcome(hits=dict(cache.hits), builds=dict(cache.builds), node=ray.get_runtime_context().get_node_id(), **kw)


def index_task(ctx: Context, ref: ComponentRef, data: TaskData, *after) -> Outcome:
    """Build (or find) one retriever's index of one task's corpus. `after`: steps that must finish
    first (encoding shards, or the same corpus's build for another task), so it is built once."""
    cache = ArtifactCache(ctx.cache_root)
    try:
        for dep in after:
            if isinstance(dep, Outcome) and dep.error:
                raise RuntimeError(dep.error)
        retriever = _retriever(ctx, ref, data.task, cache)
        retriever.index(_corpus(ctx, data))
        retriever.indexed_fp = data.documents_fp  # cells in this process skip index() for this corpus
    except Exception as exc:  # noqa: BLE001 - becomes the error of every cell that needs this index
        return _outcome(cache, error=_err(exc))
    return _outcome(cache)


def encode_task(ctx: Context, ref: ComponentRef, data: TaskData, part: int, parts: int) -> Outcome:
    """Encode every `parts`-th document shard starting at `part` into the shared partial folder."""
    cache = ArtifactCache(ctx.cache_root)
    try:
        retriever = _retriever(ctx, ref, data.task, cache)
        corpus = _corpus(ctx, data)
        retriever.encode_shards(corpus, retriever.shard_starts(corpus)[part::parts])
    except Exception as exc:  # noqa: BLE001
        return _outcome(cache, error=_err(exc))
    return _outcome(cache)


def unit_task(ctx: Context, cells: list[Cell], data: TaskData, rewrite: tuple, retriever_ref: ComponentRef,
              reranker_refs: dict[str, ComponentRef], index: Outcome | None) -> Outcome:
    """The cells of one (rewriter, retriever, task): one first-stage search shared by its rerankers."""
    cache = ArtifactCache(ctx.cache_root)
    out: list[CellResult] = []
    texts, stats, rewrite_error = rewrite
    task = data.task
    corpora, indexes, rewrites, searches = _Step(), _Step(), _Step(), _Step()
    try:
        if rewrite_error:
            raise RuntimeError(rewrite_error)
        if index is not None and index.error:
            raise RuntimeError(index.error)
        retriever = _retriever(ctx, retriever_ref, task, cache)
        rerankers = {}
        if reranker_refs:
            from bright_eval.rerankers import RERANKERS

            rerankers = {name: bind(RERANKERS.create(r.spec, r.args, cache=cache), task, ctx.request.long_documents)
                         for name, r in reranker_refs.items()}
        plan = _mini_plan(ctx, data, cache, cells, {(cells[0].retriever, task): retriever}, rerankers)
        corpora.done[task] = _corpus(ctx, data)
        if getattr(retriever, "indexed_fp", None) == data.documents_fp:
            indexes.done[(cells[0].retriever, task)] = None
        rewrites.done[(cells[0].rewriter, task)] = (texts, stats)
    except Exception as exc:  # noqa: BLE001 - every cell of the unit fails with the step's error
        msg = str(exc) if isinstance(exc, RuntimeError) else _err(exc)
        return _outcome(cache, cells=[_result(c, "failed", error=msg) for c in cells])
    for cell in cells:
        t0 = time.perf_counter()
        if ctx.skip_written:
            # A retry after a kill between writing and returning: the file is this run's, keep it.
            rec = existing(cell.path, identity_fingerprint(cell.identity, texts))
            if rec is not None:
                out.append(_result(cell, "done", rec.metrics.get(HEADLINE), time.perf_counter() - t0))
                continue
        try:
            record = _compute(plan, cell, data, corpora, indexes, rewrites, searches, lambda *a: None)
        except Exception as exc:  # noqa: BLE001 - a failed cell is a value, the others go on
            out.append(_result(cell, "failed", seconds=time.perf_counter() - t0, error=_err(exc)))
            continue
        retriever.indexed_fp = data.documents_fp
        out.append(_result(cell, "done", record.metrics.get(HEADLINE), time.perf_counter() - t0))
    return _outcome(cache, cells=out)


def _result(cell: Cell, status: str, ndcg: float | None = None, seconds: float = 0.0, error: str = "") -> CellResult:
    return CellResult(cell.rewriter, cell.retriever, cell.task, status, cell.reranker, ndcg, seconds, error, str(cell.path))

