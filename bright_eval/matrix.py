"""Rewriters x retrievers x tasks, with every shared piece of work done once.

Per task the examples and corpus are loaded once; per retriever x task the retriever is created and
indexed once (and not at all when every cell it serves is already in the results folder); per
rewriter x task the queries are rewritten once and shared by every retriever. Cells whose results
file has the same config fingerprint are skipped before any of that work, so a rerun after an
interruption only does what is missing. A failing cell is recorded and the others go on.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .cache import ArtifactCache
from .data import DataSource
from .errors import BrightEvalError
from .experiment import TaskInputs, bind_task, cell_config, rewrite_queries, run_cell
from .io import fingerprint_of
from .results import existing, result_path
from .scoring import HEADLINE
from .tasks import parse_tasks

log = logging.getLogger(__name__)
RUN_LOG = "matrix-runs.jsonl"  # not *.json, so results readers never mistake it for a cell


@dataclass
class MatrixSpec:
    rewriters: list[str]
    retrievers: list[str]
    tasks: list[str]
    top_k: int = 1000
    long_documents: bool = False
    rewriter_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    retriever_options: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for what, names in (("--rewriters", self.rewriters), ("--retrievers", self.retrievers)):
            if not names:
                raise BrightEvalError(f"{what}: give at least one name")
            dups = {n for n in names if names.count(n) > 1}
            if dups:
                raise BrightEvalError(f"{what}: listed twice: {', '.join(sorted(dups))}")
        self.tasks = parse_tasks(self.tasks)

    def cells(self) -> list[tuple[str, str, str]]:
        return [(rw, ret, t) for t in self.tasks for ret in self.retrievers for rw in self.rewriters]


_CONFIG_KEYS = {"rewriters", "retrievers", "tasks", "top_k", "long_documents", "data_dir", "results_dir", "cache_dir",
                "rewriter_options", "retriever_options"}


def read_config(path: Path | str) -> dict[str, Any]:
    """An experiment TOML: a `[matrix]` table (or top-level keys) with rewriters, retrievers, tasks, top_k,
    long_documents, data_dir, results_dir, cache_dir (paths relative to the file), and optional
    `[matrix.retriever_options.<name>]` / `[matrix.rewriter_options.<name>]` keyword arguments."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        from .errors import require

        tomllib = require("tomli", "core", "reading --config on Python 3.10")
    path = Path(path)
    if not path.exists():
        raise BrightEvalError(f"{path}: config file not found")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise BrightEvalError(f"{path}: not valid TOML ({exc})") from None
    table = doc.get("matrix", doc)
    unknown = set(table) - _CONFIG_KEYS
    if unknown:
        raise BrightEvalError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; expected: {', '.join(sorted(_CONFIG_KEYS))}")
    out = dict(table)
    for key in ("rewriters", "retrievers"):
        val = out.get(key)
        if isinstance(val, str):
            out[key] = [v.strip() for v in val.split(",") if v.strip()]
        elif val is not None and not (isinstance(val, list) and all(isinstance(v, str) for v in val)):
            raise BrightEvalError(f"{path}: field '{key}' must be a list of names or a comma-separated string")
    for key in ("rewriter_options", "retriever_options"):
        val = out.get(key, {})
        if not isinstance(val, dict) or not all(isinstance(v, dict) for v in val.values()):
            raise BrightEvalError(f"{path}: field '{key}' must be a table of tables ([matrix.{key}.<name>])")
    for key in ("data_dir", "results_dir", "cache_dir"):
        if key in out:
            out[key] = (path.parent / str(out[key])).resolve()
    return out


@dataclass
class CellResult:
    rewriter: str
    retriever: str
    task: str
    status: str  # planned | reused | done | failed
    ndcg10: float | None = None
    seconds: float = 0.0
    error: str = ""
    path: str = ""


Event = Callable[[str, dict[str, Any]], None]


def _quiet(event: str, info: dict[str, Any]) -> None:
    pass


def _err(exc: BaseException) -> str:
    log.debug("".join(traceback.format_exception(exc)))
    return f"{type(exc).__name__}: {exc}"


def run_matrix(spec: MatrixSpec, source: DataSource, results_dir: Path, cache: ArtifactCache,
               overwrite: bool = False, on_event: Event = _quiet) -> list[CellResult]:
    """Run every cell of `spec`; events: task, rewrite, index, cell (with a CellResult), note."""
    from bright_eval.retrievers import RETRIEVERS
    from bright_eval.rewriters import REWRITERS

    results_dir = Path(results_dir)
    started = time.time()
    out: list[CellResult] = []

    def finish(cell: CellResult) -> None:
        out.append(cell)
        on_event("cell", {"cell": cell})

    rewriters: dict[str, Any] = {}
    rewriter_errors: dict[str, str] = {}
    for name in spec.rewriters:
        try:
            rewriters[name] = REWRITERS.create(name, spec.rewriter_options.get(name, {}), cache=cache, source=source)
        except Exception as exc:
            rewriter_errors[name] = f"creating rewriter: {_err(exc)}"

    for task in spec.tasks:
        on_event("task", {"task": task})
        try:
            inputs = TaskInputs.load(source, task, spec.long_documents)
        except Exception as exc:
            msg = f"loading task: {_err(exc)}"
            for rw in spec.rewriters:
                for ret in spec.retrievers:
                    finish(CellResult(rw, ret, task, "failed", error=msg))
            continue
        rewritten: dict[str, dict[str, str] | str] = dict(rewriter_errors)  # name -> texts, or an error
        for ret_name in spec.retrievers:
            try:
                retriever = RETRIEVERS.create(ret_name, spec.retriever_options.get(ret_name, {}), cache=cache)
                retriever = bind_task(retriever, inputs)
            except Exception as exc:
                for rw in spec.rewriters:
                    finish(CellResult(rw, ret_name, task, "failed", error=f"creating retriever: {_err(exc)}"))
                continue
            pending = []
            for rw_name in spec.rewriters:
                if isinstance(rewritten.get(rw_name), str):
                    finish(CellResult(rw_name, ret_name, task, "failed", error=rewritten[rw_name]))
                    continue
                rw = rewriters[rw_name]
                path = result_path(results_dir, rw.name, retriever.name, task)
                prev = None if overwrite else existing(path, fingerprint_of(cell_config(inputs, rw, retriever, spec.top_k)))
                if prev is not None:
                    finish(CellResult(rw_name, ret_name, task, "reused", prev["metrics"].get(HEADLINE), path=str(path)))
                else:
                    pending.append(rw_name)
            if not pending:
                continue
            on_event("index", {"task": task, "retriever": ret_name})
            t0 = time.perf_counter()
            try:
                retriever.index(inputs.corpus)
            except Exception as exc:
                for rw_name in pending:
                    finish(CellResult(rw_name, ret_name, task, "failed", error=f"indexing: {_err(exc)}"))
                continue
            index_s = time.perf_counter() - t0
            for rw_name in pending:
                t0 = time.perf_counter()
                if rw_name not in rewritten:
                    on_event("rewrite", {"task": task, "rewriter": rw_name})
                    try:
                        rewritten[rw_name] = rewrite_queries(inputs, rewriters[rw_name])
                    except Exception as exc:
                        rewritten[rw_name] = f"rewriting: {_err(exc)}"
                texts = rewritten[rw_name]
                if isinstance(texts, str):
                    finish(CellResult(rw_name, ret_name, task, "failed", error=texts))
                    continue
                on_event("search", {"task": task, "rewriter": rw_name, "retriever": ret_name})
                try:
                    record, _ = run_cell(inputs, rewriters[rw_name], retriever, results_dir, top_k=spec.top_k,
                                         indexed=True, overwrite=True, rewritten=texts)
                except Exception as exc:
                    finish(CellResult(rw_name, ret_name, task, "failed", seconds=time.perf_counter() - t0, error=_err(exc)))
                    continue
                finish(CellResult(rw_name, ret_name, task, "done", record["metrics"][HEADLINE], time.perf_counter() - t0 + index_s,
                                  path=str(result_path(results_dir, record["rewriter"], record["retriever"], task))))
                index_s = 0.0  # the index time is charged to the first cell that used it
    _append_run_log(results_dir, spec, out, cache, time.time() - started)
    return out


def _append_run_log(results_dir: Path, spec: MatrixSpec, cells: list[CellResult], cache: ArtifactCache, seconds: float) -> None:
    """One line per matrix run: failures live nowhere else, and the cache counters show what was reused."""
    results_dir.mkdir(parents=True, exist_ok=True)
    line = {
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(seconds, 3),
        "spec": asdict(spec),
        "counts": {s: sum(c.status == s for c in cells) for s in ("done", "reused", "failed")},
        "failed": [asdict(c) for c in cells if c.status == "failed"],
        "cache": cache.stats(),
    }
    with open(results_dir / RUN_LOG, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, ensure_ascii=False) + "\n")


def plan_matrix(spec: MatrixSpec, source: DataSource, results_dir: Path, cache: ArtifactCache) -> list[dict[str, Any]]:
    """What `run_matrix` would do, without indexing, encoding or rewriting anything.

    Per cell: `results` is "reuse" (same config fingerprint on disk), "stale" (a file made with another
    configuration) or "run". For cells to run, `index` says whether the retriever's index is cached
    (True/False, or None when the retriever cannot tell) and `rewrite` the same for the rewrites."""
    from bright_eval.retrievers import RETRIEVERS
    from bright_eval.rewriters import REWRITERS

    rewriters = {n: REWRITERS.create(n, spec.rewriter_options.get(n, {}), cache=cache, source=source) for n in spec.rewriters}
    rows = []
    for task in spec.tasks:
        inputs = TaskInputs.load(source, task, spec.long_documents)
        for ret_name in spec.retrievers:
            retriever = RETRIEVERS.create(ret_name, spec.retriever_options.get(ret_name, {}), cache=cache)
            retriever = bind_task(retriever, inputs)
            index_cached: bool | None = None
            for rw_name, rw in rewriters.items():
                path = result_path(results_dir, rw.name, retriever.name, task)
                state = "run"
                if existing(path, fingerprint_of(cell_config(inputs, rw, retriever, spec.top_k))) is not None:
                    state = "reuse"
                elif path.exists():
                    state = "stale"
                row = {"task": task, "rewriter": rw_name, "retriever": ret_name, "results": state, "path": str(path)}
                if state != "reuse":
                    if index_cached is None and hasattr(retriever, "is_cached"):
                        index_cached = bool(retriever.is_cached(inputs.corpus))
                    row["index"] = index_cached
                    row["rewrite"] = _rewrite_cached(rw, inputs)
                rows.append(row)
    return rows


def _rewrite_cached(rewriter, inputs: TaskInputs) -> bool | None:
    """Rewriters that keep a cache may say whether all of a task's rewrites are in it."""
    check = getattr(rewriter, "is_cached", None)
    if check is None:
        return True if getattr(rewriter, "name", "") == "original" else None
    from bright_eval.rewriters import Query

    return bool(check([Query(inputs.task, ex.id, ex.query) for ex in inputs.examples]))
