"""From a request to cells: the one place that decides, for every command, what is reused and what is computed.

A cell is (rewriter, retriever, reranker, task, settings). Its identity is everything that can change
its numbers: the components' specs, the settings, the content of the examples and of the documents
(a file hash kept by path + size + mtime, so this costs nothing on a warm run) and the rewritten
query texts where they are available without generating anything. The reuse rule: a results file is
reused when its stored identity equals the cell's; when the rewrites are not yet available (an LLM
rewriter with an empty cache), everything else must be equal and the rewriter's spec, which keys
its cache, stands for its texts.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from .cache import ArtifactCache
from .components import HasStats, IndexCache, Query, ReadsDocuments, Reranker, Retriever, RewriteCache, Rewriter, bind
from .data import DataSource, Example, examples_fingerprint
from .errors import BrightEvalError
from .io import Fingerprint, fingerprint_of
from .record import ResultRecord, settings_tag
from .registry import merge_args, split_options, split_top_level
from .results import read_result, result_path, reuse_problem
from .storage import Place, check_writable, location
from .tasks import parse_tasks

log = logging.getLogger(__name__)
PROTOCOL = "bright: excluded_ids removed before top-k; gold_ids grade 1; pytrec_eval"
RERANK_QUERIES = ("original", "rewritten")


@dataclass
class ComponentRef:
    """A component as the user named it: a registry spec and its options."""

    spec: str
    args: dict[str, Any] = field(default_factory=dict)
    obj: Any = None  # a component object passed in directly (Python API): used as is, named by its spec()

    @classmethod
    def of(cls, component: Any) -> ComponentRef:
        """A ref for a registry name (str, inline options allowed) or a component object."""
        if isinstance(component, str):
            return cls.parse(component)
        if isinstance(component, ComponentRef):
            return component
        return cls(object_name(component), obj=component)

    @classmethod
    def parse(cls, text: str, args: dict[str, Any] | None = None, where: str = "its options") -> ComponentRef:
        """'bm25' or 'bm25(k1=1.2,b=0.75)' (the form results are named by); `args` (given in `where`)
        add to those, and an option given differently in both is an error."""
        spec, inline = split_options(text)
        return cls(spec, merge_args(f"'{text.strip()}'", (f"'{text.strip()}'", inline), (where, args or {})))


def parse_refs(text: str | list[str]) -> list[ComponentRef]:
    items = split_top_level(text) if isinstance(text, str) else [t for t in text if t.strip()]
    items = [t for t in items if t]
    return [ComponentRef.parse(t) for t in items]


def as_refs(components: Any) -> list[ComponentRef]:
    """Names (a comma-separated string or a list), component objects, or a mix, as refs."""
    if isinstance(components, str):
        return parse_refs(components)
    if not isinstance(components, (list, tuple)):
        components = [components]
    out: list[ComponentRef] = []
    for c in components:
        out.extend(parse_refs(c) if isinstance(c, str) else [ComponentRef.of(c)])
    return out


@dataclass
class Request:
    rewriters: list[ComponentRef]
    retrievers: list[ComponentRef]
    tasks: list[str]
    top_k: int = 1000
    long_documents: bool = False
    rerankers: list[ComponentRef | None] = field(default_factory=lambda: [None])
    rerank_depth: int = 100
    rerank_query: str = "original"  # BRIGHT reranks with the original query

    def __post_init__(self) -> None:
        if not self.rewriters or not self.retrievers:
            raise BrightEvalError("give at least one rewriter and one retriever")
        if self.top_k < 1:
            raise BrightEvalError(f"--top-k must be at least 1, got {self.top_k}")
        if self.rerank_query not in RERANK_QUERIES:
            raise BrightEvalError(f"--rerank-query must be one of {', '.join(RERANK_QUERIES)}, got '{self.rerank_query}'")
        self.tasks = parse_tasks(self.tasks)

    def settings(self, reranked: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"top_k": self.top_k, "long_documents": self.long_documents}
        if reranked:
            out.update(rerank_depth=self.rerank_depth, rerank_query=self.rerank_query)
        return out


@dataclass
class TaskData:
    task: str
    examples: list[Example] = field(default_factory=list)
    examples_fp: str = ""
    documents_fp: str = ""
    error: str = ""  # why the task's cells cannot run

    def queries(self) -> list[Query]:
        return [Query(self.task, ex.id, ex.query) for ex in self.examples]


@dataclass
class Cell:
    task: str
    rewriter: str
    retriever: str
    reranker: str | None
    settings: dict[str, Any]
    identity: dict[str, Any]
    path: Place
    status: str = "compute"        # reuse | compute | blocked
    reason: str = ""
    index_cached: bool | None = None
    rewrite_cached: bool | None = None
    record: ResultRecord | None = None

    @property
    def key(self) -> tuple[str, str, str | None, str]:
        return (self.rewriter, self.retriever, self.reranker, self.task)


@dataclass
class Plan:
    request: Request
    source: DataSource
    results_dir: Place
    cache: ArtifactCache
    cells: list[Cell]
    tasks: dict[str, TaskData]
    rewriters: dict[str, Rewriter]
    retrievers: dict[str, Retriever]
    rerankers: dict[str, Reranker]
    bound: dict[tuple[str, str], Retriever]               # (retriever, task) -> task-bound retriever
    rewrites: dict[tuple[str, str], dict[str, str]]       # (rewriter, task) -> texts known without generating
    bound_rerankers: dict[tuple[str, str], Reranker] = field(default_factory=dict)  # (reranker, task) -> task-bound
    rewrite_stats: dict[tuple[str, str], dict] = field(default_factory=dict)  # (rewriter, task) -> counters of `rewrites`
    first_stages: dict[str, Retriever] = field(default_factory=dict)  # rewriter -> the retriever it reads (ReadsDocuments)
    first_stage_runs: dict[tuple, dict[str, list[str]]] = field(default_factory=dict)  # (spec fp, k, task) -> contexts

    def reranker(self, name: str, task: str) -> Reranker:
        return self.bound_rerankers.get((name, task)) or self.rerankers[name]

    def counts(self) -> dict[str, int]:
        return {s: sum(c.status == s for c in self.cells) for s in ("reuse", "compute", "blocked")}


def texts_fingerprint(texts: dict[str, str]) -> str:
    fp = Fingerprint()
    for qid in sorted(texts):
        fp.update(qid, texts[qid])
    return fp.hexdigest()


def identity_fingerprint(identity: dict[str, Any], texts: dict[str, str]) -> str:
    """The fingerprint stored in a results file: the cell identity plus the exact query texts."""
    return fingerprint_of({**identity, "queries": texts_fingerprint(texts)})


def object_name(component: Any) -> str:
    """A passed-in component's name: its `name`, else the `name` its spec() gives. The name keys its
    results folder, and its spec() enters every cell identity, so reuse works as for registered ones."""
    name = getattr(component, "name", None)  # the protocols declare it; an object may leave it to spec()
    if not name and callable(getattr(component, "spec", None)):
        name = (component.spec() or {}).get("name")
    if not isinstance(name, str) or not name.strip():
        raise BrightEvalError(f"{type(component).__name__}: a component object needs a `name` (or spec()['name']) that is non-empty text")
    return name.strip()


def _create(registry, refs: list[ComponentRef], what: str, **context) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for ref in refs:
        if ref.obj is not None:
            if not getattr(ref.obj, "name", None):
                ref.obj.name = ref.spec
            protocol = registry.protocol
            if protocol is not None and not isinstance(ref.obj, protocol):
                raise BrightEvalError(f"{what}: {type(ref.obj).__name__} does not implement the {protocol.__name__} protocol "
                                      f"(bright_eval.components.{protocol.__name__})")
            obj = ref.obj
        else:
            obj = registry.create(ref.spec, ref.args, **context)
        if obj.name in out:
            raise BrightEvalError(f"{what}: '{obj.name}' is listed twice")
        out[obj.name] = obj
    return out


def _load_task(source: DataSource, task: str, long_documents: bool) -> TaskData:
    data = TaskData(task)
    try:
        data.examples = source.examples(task)
        data.examples_fp = examples_fingerprint(data.examples)
        data.documents_fp = source.documents_fingerprint(task, long_documents)
    except BrightEvalError as exc:
        data.error = str(exc)
    return data


def _changed(old: dict[str, Any], new: dict[str, Any]) -> str:
    keys = sorted(k for k in set(old) | set(new) if k != "queries" and old.get(k) != new.get(k))
    return ", ".join(keys) or "rewritten queries"


def make_plan(request: Request, source: DataSource, results_dir: Place | str, cache: ArtifactCache,
              overwrite: bool = False) -> Plan:
    """Every cell of `request` with its identity and status; nothing is indexed, encoded or generated."""
    from bright_eval.retrievers import RETRIEVERS
    from bright_eval.rewriters import REWRITERS

    results_dir = check_writable(location(results_dir), "--results-dir")
    check_writable(cache.root, "--cache-dir")
    rewriters = _create(REWRITERS, request.rewriters, "rewriters", cache=cache, source=source)
    retrievers = _create(RETRIEVERS, request.retrievers, "retrievers", cache=cache)
    rerank_refs = [r for r in request.rerankers if r is not None]
    rerankers: dict[str, Reranker] = {}
    if rerank_refs:
        from bright_eval.rerankers import RERANKERS

        rerankers = _create(RERANKERS, rerank_refs, "rerankers", cache=cache)
    stages: list[Reranker | None] = ([None] if None in request.rerankers else []) + list(rerankers.values())

    plan = Plan(request, source, results_dir, cache, [], {}, rewriters, retrievers, rerankers, {}, {})
    for rw_name, rw in rewriters.items():
        if isinstance(rw, ReadsDocuments) and rw.context_retriever:
            # Created here so that its spec is in the rewriter's spec, hence in every cell's identity.
            spec, args = split_options(rw.context_retriever)
            first = plan.first_stages[rw_name] = RETRIEVERS.create(spec, args, cache=cache)
            rw.set_context_spec(first.spec())
    for task in request.tasks:
        data = plan.tasks[task] = _load_task(source, task, request.long_documents)
        queries = data.queries()
        for ret_name, retriever in retrievers.items():
            bound = plan.bound[(ret_name, task)] = bind(retriever, task, request.long_documents)
            ret_spec = bound.spec()
            index_cached = None
            if not data.error and isinstance(bound, IndexCache):
                index_cached = bound.is_cached(data.documents_fp)
            for rw_name, rw in rewriters.items():
                texts = None
                if not data.error and isinstance(rw, RewriteCache) and rw.is_cached(queries):
                    texts = plan.rewrites.get((rw_name, task))
                    if texts is None:
                        before = asdict(rw.stats) if isinstance(rw, HasStats) else {}
                        try:
                            texts = dict(zip((q.id for q in queries), rw.rewrite(queries)))
                        except BrightEvalError as exc:  # surfaces again, as the cell's error, when executed
                            log.debug("rewrites of %s for %s not available at planning: %s", rw_name, task, exc)
                        else:
                            plan.rewrites[(rw_name, task)] = texts
                            if isinstance(rw, HasStats):  # the run's record needs the fallbacks and failures counted here
                                plan.rewrite_stats[(rw_name, task)] = rw.stats.since(before, task)
                for rr in stages:
                    if rr is not None:  # bound like retrievers: an encoder reranker uses the task's instructions
                        rr = plan.bound_rerankers.setdefault((rr.name, task), bind(rr, task, request.long_documents))
                    settings = request.settings(rr is not None)
                    identity = {
                        "task": task, "rewriter": rw.spec(), "retriever": ret_spec, "reranker": rr.spec() if rr else None,
                        "settings": settings, "protocol": PROTOCOL,
                        "data": {"examples": data.examples_fp, "documents": data.documents_fp},
                    }
                    cell = Cell(task, rw_name, ret_name, rr.name if rr else None, settings, identity,
                                result_path(results_dir, rw_name, ret_name, task, rr.name if rr else None, settings_tag(settings)),
                                index_cached=index_cached, rewrite_cached=texts is not None)
                    _decide(cell, data, texts, overwrite)
                    plan.cells.append(cell)
    return plan


def _decide(cell: Cell, data: TaskData, texts: dict[str, str] | None, overwrite: bool) -> None:
    if data.error:
        cell.status, cell.reason = "blocked", data.error
        return
    if overwrite:
        cell.reason = "--overwrite"
        return
    if not cell.path.exists():
        cell.reason = "new"
        return
    rec = read_result(cell.path)  # a damaged file is named, with its bad field, in a warning
    if rec is None:
        cell.reason = "results file damaged or unreadable (see the warning)"
        return
    problem = reuse_problem(rec, cell.path)
    if problem:
        log.warning("%s: not reused, %s; recomputing", cell.path, problem)
        cell.reason = problem.removeprefix("its ")
        return
    stored = {k: v for k, v in rec.identity.items() if k != "queries"}
    if texts is not None:
        same = rec.identity_fingerprint == identity_fingerprint(cell.identity, texts)
    else:
        same = fingerprint_of(stored) == fingerprint_of(cell.identity)
    if same:
        cell.status, cell.record = "reuse", rec
    else:
        cell.reason = f"inputs changed: {_changed(stored, cell.identity)}"
