"""Running a plan: shared work once, one results file per computed cell, failures as values.

Per task the documents are read once; per (retriever, task) the index is built once, before any
rewriting, so a missing or broken corpus fails before a paid API call; per (rewriter, task) the
queries are rewritten once; per (rewriter, retriever, task) the first-stage run is searched once and
shared by every reranker. A failing step fails the cells that need it and the rest go on. Ctrl-C
stops at once; every results file already written stays, and the run log says it was interrupted.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from typing import Any

from . import storage
from .components import HasStats, IndexParts, Query, RanWith, ReadsDocuments, Releasable, RetrieverStats, bind
from .data import Corpus, check_gold_in_corpus
from .errors import BrightEvalError
from .io import fingerprint_of
from .memory import trim
from .plan import Cell, Plan, identity_fingerprint
from .record import FELL_BACK, ResultRecord
from .results import write_result
from .scoring import HEADLINE, evaluate_run, mean_metrics, unjudged
from .trec import Run, format_run

log = logging.getLogger(__name__)
RUN_LOG = "matrix-runs.jsonl"  # not *.json, so results readers never mistake it for a cell
Event = Callable[[str, dict[str, Any]], None]


@dataclass
class CellResult:
    rewriter: str
    retriever: str
    task: str
    status: str  # reused | done | failed | blocked
    reranker: str | None = None
    ndcg10: float | None = None
    seconds: float = 0.0
    error: str = ""
    path: str = ""


def _quiet(event: str, info: dict[str, Any]) -> None:
    pass


def _err(exc: BaseException) -> str:
    if isinstance(exc, BrightEvalError):
        return str(exc)
    log.debug("".join(traceback.format_exception(exc)))
    return f"{type(exc).__name__}: {exc} (a bug in bright-eval? please report it with --verbose output)"


class _Step:
    """A piece of shared work done at most once; its value or its error is kept for every cell."""

    def __init__(self) -> None:
        self.done: dict[Any, Any] = {}
        self.seconds: dict[Any, float] = {}

    def get(self, key, fn: Callable[[], Any]) -> Any:
        if key not in self.done:
            t0 = time.perf_counter()
            try:
                self.done[key] = fn()
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # noqa: BLE001 - becomes the failed cells' error
                self.done[key] = exc
            self.seconds[key] = time.perf_counter() - t0
        value = self.done[key]
        if isinstance(value, Exception):
            raise value
        return value

    def forget(self, task: str) -> None:
        """Drop the values of one task (keys are the task or tuples ending with it)."""
        for key in [k for k in self.done if k == task or (isinstance(k, tuple) and k[-1] == task)]:
            del self.done[key]

    def charge(self, key) -> float:
        """The step's time, charged to the first cell that used it."""
        return self.seconds.pop(key, 0.0)


def execute(plan: Plan, on_event: Event = _quiet) -> list[CellResult]:
    """Run every cell of `plan`; events: task, index, rewrite, search, rerank, cell (with a CellResult)."""
    started = time.time()
    out: list[CellResult] = []
    interrupted = False

    def finish(cell: Cell, status: str, ndcg: float | None = None, seconds: float = 0.0, error: str = "") -> None:
        res = CellResult(cell.rewriter, cell.retriever, cell.task, status, cell.reranker, ndcg, seconds, error, str(cell.path))
        out.append(res)
        on_event("cell", {"cell": res})

    corpora, indexes, rewrites, searches = _Step(), _Step(), _Step(), _Step()
    try:
        for task in plan.request.tasks:
            cells = [c for c in plan.cells if c.task == task]
            for c in cells:
                if c.status == "reuse":
                    finish(c, "reused", (c.record.metrics if c.record else {}).get(HEADLINE))
                elif c.status == "blocked":
                    finish(c, "blocked", error=c.reason)
            todo = [c for c in cells if c.status == "compute"]
            if not todo:
                continue
            on_event("task", {"task": task})
            data = plan.tasks[task]
            for cell in todo:
                t0 = time.perf_counter()
                try:
                    record = _compute(plan, cell, data, corpora, indexes, rewrites, searches, on_event)
                except KeyboardInterrupt:
                    raise
                except Exception as exc:  # noqa: BLE001 - a failed cell is a value, the others go on
                    finish(cell, "failed", seconds=time.perf_counter() - t0, error=_err(exc))
                    continue
                finish(cell, "done", record.metrics.get(HEADLINE), time.perf_counter() - t0)
            # Tasks run one after another: a finished task's documents, runs and indexes are let go,
            # so peak memory is the largest task's, not the sum over BRIGHT's twelve.
            for step in (corpora, indexes, rewrites, searches):
                step.forget(task)
            for ret in plan.retrievers:
                bound = plan.bound.get((ret, task))
                if isinstance(bound, Releasable):
                    bound.release()
            trim()
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        _append_run_log(plan, out, time.time() - started, interrupted)
    return out


def rerank_step(reranker, queries: dict[str, str], run, corpus: Corpus, depth: int) -> tuple[dict, dict]:
    """The reranked run and what this call cost and left as it was (the reranker's stats delta)."""
    stats = reranker.stats if isinstance(reranker, HasStats) else None
    if stats is None:
        return reranker.rerank(queries, run, corpus, depth), {}
    before, earlier = asdict(stats), stats.failed
    stats.failed = {}  # query ids repeat across tasks: this call's failures are the ones collected now
    try:
        out = reranker.rerank(queries, run, corpus, depth)
    finally:
        mine, stats.failed = stats.failed, {**earlier, **stats.failed}
    delta = {f.name: getattr(stats, f.name) - before[f.name] for f in fields(stats) if f.name != "failed"}
    delta["failed"] = mine
    if mine:
        log.warning("%s", rerank_warning(reranker.name, mine))
    return out, delta


def rerank_warning(name: str, failed: dict[str, str]) -> str:
    calls = sum(why.startswith("call failed") for why in failed.values())
    return (f"reranker '{name}': {len(failed)} queries kept their first-stage order ({calls} failed calls, "
            f"{len(failed) - calls} unusable answers; reranker_stats.failed lists them; failed calls are not cached, "
            f"so --overwrite asks again)")


def load_corpus(plan: Plan, data) -> Corpus:
    corpus = plan.source.documents(data.task, long=plan.request.long_documents)
    if not plan.request.long_documents:
        check_gold_in_corpus(data.task, data.examples, corpus)
    return corpus


def first_stage_contexts(plan: Plan, rewriter: str, data, corpus: Corpus | None, on_event: Event = _quiet) -> dict[str, list[str]]:
    """The texts of the top `context_k` documents per original query, from the first stage that
    `rewriter` reads (ReadsDocuments), with BRIGHT's exclusions; searched once per (first stage, k,
    task) and shared by every rewriter that reads the same one."""
    rw, task = plan.rewriters[rewriter], data.task
    first = bind(plan.first_stages[rewriter], task, plan.request.long_documents)
    key = (fingerprint_of(first.spec()), rw.context_k, task)
    if key not in plan.first_stage_runs:
        corpus = corpus or load_corpus(plan, data)
        on_event("index", {"task": task, "retriever": f"{first.name} (first stage of {rewriter})"})
        first.index(corpus)
        exclude = {ex.id: set(ex.excluded_ids) for ex in data.examples if ex.excluded_ids}
        run = first.search({ex.id: ex.query for ex in data.examples}, k=rw.context_k, exclude=exclude)
        text_of = dict(zip(corpus.ids, corpus.texts))
        plan.first_stage_runs[key] = {qid: [text_of[d] for d, _ in sorted(hits.items(), key=lambda h: (-h[1], h[0]))]
                                      for qid, hits in run.items()}
    return plan.first_stage_runs[key]


def rewrite_step(plan: Plan, rewriter: str, data, on_event: Event = _quiet, corpus: Corpus | None = None) -> tuple[dict[str, str], dict]:
    """The rewrites of one (rewriter, task) and what producing them cost (the rewriter's stats delta)."""
    rw, task = plan.rewriters[rewriter], data.task
    known = plan.rewrites.get((rewriter, task))
    if known is not None:  # rewritten while planning (precomputed or cached): what it counted then
        return known, plan.rewrite_stats.get((rewriter, task), {})
    before = asdict(rw.stats) if isinstance(rw, HasStats) else {}
    on_event("rewrite", {"task": task, "rewriter": rewriter})
    qs = [Query(task, ex.id, ex.query) for ex in data.examples]
    if isinstance(rw, ReadsDocuments) and rewriter in plan.first_stages:
        texts = rw.rewrite_with_context(qs, first_stage_contexts(plan, rewriter, data, corpus, on_event))
    else:
        texts = rw.rewrite(qs)
    if len(texts) != len(qs):
        raise BrightEvalError(f"rewriter '{rw.name}' returned {len(texts)} texts for {len(qs)} queries of task {task}")
    known = {q.id: t for q, t in zip(qs, texts)}
    stats = rw.stats.since(before, task) if isinstance(rw, HasStats) else {}
    return known, stats


def _compute(plan: Plan, cell: Cell, data, corpora: _Step, indexes: _Step, rewrites: _Step, searches: _Step,
             on_event: Event) -> ResultRecord:
    req, task = plan.request, cell.task
    timings: dict[str, float] = {}

    corpus = corpora.get(task, lambda: load_corpus(plan, data))
    timings["load_documents_s"] = corpora.charge(task)

    retriever = plan.bound[(cell.retriever, task)]

    def build_index() -> None:
        on_event("index", {"task": task, "retriever": cell.retriever})
        retriever.index(corpus)

    indexes.get((cell.retriever, task), build_index)
    timings["index_s"] = indexes.charge((cell.retriever, task))
    if timings["index_s"] and isinstance(retriever, IndexParts):  # this cell built the index
        timings.update(retriever.index_parts)

    texts, rw_stats = rewrites.get((cell.rewriter, task), lambda: rewrite_step(plan, cell.rewriter, data, on_event, corpus))
    timings["rewrite_s"] = rewrites.charge((cell.rewriter, task))

    exclude = {ex.id: set(ex.excluded_ids) for ex in data.examples if ex.excluded_ids}

    def search() -> Run:
        on_event("search", {"task": task, "rewriter": cell.rewriter, "retriever": cell.retriever})
        return retriever.search(texts, k=req.top_k, exclude=exclude)

    run = searches.get((cell.rewriter, cell.retriever, task), search)
    timings["search_s"] = searches.charge((cell.rewriter, cell.retriever, task))

    rr_stats: dict = {}
    reranker = None
    if cell.reranker is not None:
        on_event("rerank", {"task": task, "rewriter": cell.rewriter, "retriever": cell.retriever, "reranker": cell.reranker})
        t0 = time.perf_counter()
        seen = texts if req.rerank_query == "rewritten" else {ex.id: ex.query for ex in data.examples}
        reranker = plan.reranker(cell.reranker, task)
        run, rr_stats = rerank_step(reranker, seen, run, corpus, req.rerank_depth)
        timings["rerank_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    per_query = evaluate_run(run, data.examples, req.top_k)
    timings["score_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    run_file = cell.path.name[: -len(".json")] + ".run.gz"
    tag = f"{cell.rewriter}+{cell.retriever}" + (f"+{cell.reranker}" if cell.reranker else "")
    storage.write_text(cell.path.parent / run_file, format_run(run, tag.replace(" ", "_")))  # as trec.write_run, to a URL too
    warnings = []
    missing = sum(1 for ex in data.examples for g in ex.gold_ids if g not in corpus.id_set)
    if missing and not req.long_documents:
        warnings.append(f"{missing} gold ids are not in the corpus: scores are bounded below 1")
    no_gold = unjudged(data.examples)
    if no_gold:
        warnings.append(f"{len(no_gold)} queries have no gold_ids and are excluded from the averages: {', '.join(no_gold[:10])}")
    if rw_stats.get("failed"):
        warnings.append(f"{len(rw_stats['failed'])} rewrites were unusable; the original query was used for them")
    n_fell_back = rw_stats.get("fallback", 0)
    if n_fell_back and n_fell_back >= len(data.examples):
        warnings.append(f"{FELL_BACK} ({n_fell_back} of {len(data.examples)} rewrites were empty): these are the original "
                        f"queries' numbers, not {cell.rewriter}'s")
        log.warning("%s on %s: %s; the results file and the leaderboard mark it", cell.rewriter, task, FELL_BACK)
    if rr_stats.get("failed"):
        warnings.append(rerank_warning(cell.reranker, rr_stats["failed"]))
    record = ResultRecord.build(
        identity=cell.identity,
        task=task, rewriter=cell.rewriter, retriever=cell.retriever, reranker=cell.reranker, settings=cell.settings,
        data={"source": plan.source.description, "revision": _revision(plan.source), "examples_fingerprint": data.examples_fp,
              "documents_fingerprint": corpus.fingerprint,
              "corpus_origin": corpus.origin, "n_queries": len(data.examples), "n_docs": len(corpus)},
        metrics=mean_metrics(per_query), per_query=per_query,
        queries={ex.id: {"original": ex.query, "rewritten": texts[ex.id]} for ex in data.examples},
        rewriter_stats=rw_stats, retriever_stats=dict(retriever.stats) if isinstance(retriever, RetrieverStats) else {},
        reranker_stats=rr_stats,
        warnings=warnings, run_file=run_file, timings=timings,
    )
    record.identity_fingerprint = identity_fingerprint(cell.identity, texts)
    # Which engine computed the numbers: not identity, since an fp32 backend computes torch's and shares its results.
    ran_with = {role: c.ran_with() for role, c in (("retriever", retriever), ("reranker", reranker)) if isinstance(c, RanWith)}
    if any(ran_with.values()):
        record.environment["ran_with"] = ran_with
    timings["write_s"] = time.perf_counter() - t0
    write_result(cell.path, record)
    record.path = str(cell.path)
    return record


def _revision(source) -> str | None:
    """Which BRIGHT this is: the hub commit (BRIGHT's numbers changed between its 2024 and 2025
    versions); a local folder is named by the content fingerprints recorded beside it."""
    from .data import Versioned

    return source.revision_id if isinstance(source, Versioned) else None


def _append_run_log(plan: Plan, cells: list[CellResult], seconds: float, interrupted: bool, extra: dict | None = None) -> None:
    """One line per execution: failures live nowhere else, and the cache counters show what was reused."""
    try:
        req = plan.request
        line = {
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(seconds, 3),
            "interrupted": interrupted,
            "request": {"rewriters": list(plan.rewriters), "retrievers": list(plan.retrievers), "rerankers": list(plan.rerankers),
                        "tasks": req.tasks, "settings": req.settings(bool(plan.rerankers))},
            "planned": plan.counts(),
            "counts": {s: sum(c.status == s for c in cells) for s in ("done", "reused", "failed", "blocked")},
            "failed": [asdict(c) for c in cells if c.status in ("failed", "blocked")],
            "cache": plan.cache.stats(),
        }
        if extra:
            line.update(extra)
        storage.append_line(plan.results_dir / RUN_LOG, json.dumps(line, ensure_ascii=False))
    except OSError as exc:  # the results themselves are already written
        log.warning("%s: could not append to the run log (%s)", plan.results_dir / RUN_LOG, exc)
