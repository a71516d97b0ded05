"""The Python API: the same plan/execute path as the CLI, returning data instead of printing it.

    import bright_eval as be
    res = be.run(rewriter="original", retriever="bm25", tasks="biology", data_dir="data/")
    res.to_pandas()                      # one row per cell
    be.matrix(["original", "tsqr-7b@published"], ["bm25", MyRetriever()], tasks="all").to_pandas(per_query=True)

Components are registry names (inline options allowed: "bm25(k1=1.2)") or objects implementing the
Rewriter / Retriever / Reranker protocol (bright_eval.components); an object is named by its `name`
(or spec()["name"]) and its spec() enters every cell identity, so reuse and provenance work as for
registered components. Errors are `BrightEvalError`, the same one-line messages the CLI prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import BrightEvalError

if TYPE_CHECKING:
    import pandas as pd

    from .execute import CellResult
    from .record import ResultRecord
    from .scoreboard import Leaderboard


@dataclass
class Results:
    """What a run or a matrix produced: every cell's outcome and the records written or reused."""

    cells: list[CellResult]
    records: list[ResultRecord] = field(default_factory=list)

    @property
    def failed(self) -> list[CellResult]:
        return [c for c in self.cells if c.status in ("failed", "blocked")]

    def to_pandas(self, per_query: bool = False) -> pd.DataFrame:
        """One row per cell (rewriter, retriever, reranker, task, settings, status and every metric), or
        with `per_query` one row per (cell, query)."""
        return records_frame(self.records, per_query, cells=self.cells)


def records_frame(records: list[ResultRecord], per_query: bool = False, cells: list[CellResult] | None = None) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for rec in records:
        base = {"rewriter": rec.rewriter, "retriever": rec.retriever, "reranker": rec.reranker, "task": rec.task,
                "settings": rec.tag}
        if per_query:
            rows.extend({**base, "query": qid, **metrics} for qid, metrics in rec.per_query.items())
        else:
            rows.append({**base, "status": "", **rec.metrics})
    frame = pd.DataFrame(rows)
    if cells is not None and not per_query and len(frame):
        status = {(c.rewriter, c.retriever, c.reranker, c.task): c.status for c in cells}
        frame["status"] = [status.get(k, "") for k in zip(frame.rewriter, frame.retriever, frame.reranker, frame.task)]
    return frame


def matrix(rewriters: Any, retrievers: Any, tasks: str | list[str] = "all", rerankers: Any = None, *,
           data_dir: str | Path | None = None, hub_repo: str | None = None, data_revision: str | None = None,
           results_dir: str | Path = "results/runs", cache_dir: str | Path | None = None, top_k: int = 1000,
           long_documents: bool = False, rerank_depth: int = 100, rerank_query: str = "original", overwrite: bool = False,
           rewriter_args: dict[str, dict] | None = None, retriever_args: dict[str, dict] | None = None,
           reranker_args: dict[str, dict] | None = None, progress: bool = False) -> Results:
    """Every rewriter x retriever (x reranker, the first stage kept) x task cell: planned, reused or
    computed, written as results files, returned. `*_args` map a component's spec to its options, as an
    experiment file's `[matrix.*_args.<spec>]` tables do."""
    from . import progress as progress_mod
    from .cache import ArtifactCache
    from .data import get_source
    from .execute import execute
    from .experiment import build_request
    from .plan import as_refs, make_plan
    from .results import read_result

    conf = {"rewriter_args": rewriter_args or {}, "retriever_args": retriever_args or {}, "reranker_args": reranker_args or {}}
    rr = as_refs(rerankers) if rerankers is not None else []
    request = build_request(as_refs(rewriters), as_refs(retrievers), tasks, conf, top_k=top_k, long_documents=long_documents,
                            rerankers=rr or None, rerank_depth=rerank_depth, rerank_query=rerank_query)
    progress_mod.set_enabled(progress)
    source = get_source(data_dir, hub_repo, data_revision)
    plan = make_plan(request, source, results_dir, ArtifactCache(cache_dir), overwrite)
    cells = execute(plan)
    records = [rec for c in cells if c.status in ("done", "reused") and (rec := read_result(c.path)) is not None]
    return Results(cells, records)


def run(rewriter: Any = "original", retriever: Any = "bm25", tasks: str | list[str] = "all", reranker: Any = None,
        **kwargs) -> Results:
    """One rewriter x one retriever (optionally reranked): a matrix of one. Keyword options as `matrix`."""
    return matrix([rewriter], [retriever], tasks, [reranker] if reranker is not None else None, **kwargs)


def evaluate(run: str | Path | dict[str, dict[str, float]], task: str, *, data_dir: str | Path | None = None,
             top_k: int = 1000) -> dict[str, Any]:
    """Score a run ({qid: {docid: score}} or a TREC run file) for one task under BRIGHT's protocol:
    {"metrics": {...}, "per_query": {...}}."""
    from .data import get_source
    from .scoring import evaluate_run, mean_metrics
    from .tasks import parse_tasks
    from .trec import read_run

    names = parse_tasks(task)
    if len(names) != 1:
        raise BrightEvalError(f"evaluate scores one task, got {task!r}")
    scored = read_run(Path(run)) if isinstance(run, (str, Path)) else run
    examples = get_source(data_dir).examples(names[0])
    known = {ex.id for ex in examples}
    if not any(q in known for q in scored):
        raise BrightEvalError(f"none of the run's {len(scored)} query ids belong to task '{names[0]}'")
    per_query = evaluate_run({q: r for q, r in scored.items() if q in known}, examples, top_k)
    return {"metrics": mean_metrics(per_query), "per_query": per_query}


def load_results(results_dir: str | Path) -> list[ResultRecord]:
    """Every results record under a folder (or fsspec URL), validated as the leaderboard reads them."""
    from .results import load_results as _load

    return _load(results_dir)


def leaderboard(results_dir: str | Path = "results/runs", metric: str = "ndcg@10", reported: bool = False,
                tasks: list[str] | None = None, settings: str | None = None, split_settings: bool = False) -> Leaderboard:
    """The leaderboard as data (`.rows`, `.tasks`; `.to_pandas()`), with published rows if `reported`."""
    from .scoreboard import build

    return build(results_dir, metric, with_reported=reported, tasks=tasks, settings=settings, split_settings=split_settings)


def report(results_dir: str | Path = "results/runs", baseline: str = "original", baseline_retriever: str | None = None,
           ablation: str = "rewriter", **settings) -> dict[str, Any]:
    """The significance report as data (what `bright-eval report` renders): per comparison, per-task and
    macro deltas with bootstrap intervals, p-values and win/tie/loss counts. `settings` are
    bright_eval.ablation_report.Settings fields (metric, alpha, ...)."""
    from .ablation_report import Settings, build_report

    return build_report(results_dir, baseline, baseline_retriever, settings=Settings(**settings), ablation=ablation)
