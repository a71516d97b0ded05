"""`bright-eval matrix`: rewriters x retrievers x tasks through the one plan/execute path, resumable, with a live view."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from bright_eval import progress as progress_mod
from bright_eval.errors import BrightEvalError

from . import app, err
from .options import DataRevision, HubRepo, OptPath, PlaceArg, results_location
from .render import check_format, out, stdout_to_stderr

if TYPE_CHECKING:  # the machinery (and rich) loads when a command runs, not for `--help`
    from rich.text import Text

    from bright_eval.cache import ArtifactCache
    from bright_eval.execute import CellResult
    from bright_eval.plan import Plan, Request


class LiveGrid:
    """One row per system, one column per task: the leaderboard filling in as cells finish."""

    def __init__(self, plan: Plan):
        from rich.text import Text

        self.tasks = plan.request.tasks
        self.systems = list(dict.fromkeys((c.rewriter, c.retriever, c.reranker) for c in plan.cells))
        self.state: dict[tuple, Text] = {(c.rewriter, c.retriever, c.reranker, c.task): Text("·", style="dim") for c in plan.cells}
        self.activity = "starting"
        self.cluster = ""
        self.t0 = time.time()

    def event(self, kind: str, info: dict) -> None:
        from rich.text import Text

        if kind == "cell":
            c: CellResult = info["cell"]
            key = (c.rewriter, c.retriever, c.reranker, c.task)
            if c.status in ("failed", "blocked"):
                self.state[key] = Text(c.status, style="bold red")
            else:
                val = f"{100 * c.ndcg10:.1f}" if c.ndcg10 is not None else "?"
                self.state[key] = Text(val, style="green" if c.status == "done" else "dim")
        elif kind == "cluster":
            self.cluster = ("ray: {nodes} nodes alive ({cpus:g} CPUs, {gpus:g} GPUs) · {done} done, {running} running, "
                            "{waiting} waiting, {failed} failed · {replicas} model replicas").format(**info)
        elif kind in ("index", "rewrite", "search", "rerank", "task"):
            what = {"index": "indexing {task} with {retriever}", "rewrite": "rewriting {task} with {rewriter}",
                    "search": "searching {task}: {rewriter} + {retriever}", "rerank": "reranking {task} with {reranker}",
                    "task": "loading {task}"}[kind]
            self.activity = what.format(**info)

    def __rich__(self):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        table = Table(title="nDCG@10 x100 (dim: reused, green: computed now)", title_justify="left")
        for col in ("rewriter", "retriever", "reranker"):
            table.add_column(col)
        for t in self.tasks:
            table.add_column(t[:10], justify="right")
        for rw, ret, rr in self.systems:
            table.add_row(Text(rw), Text(ret), Text(rr or ""), *(self.state.get((rw, ret, rr, t), Text("")) for t in self.tasks))
        done = sum(1 for v in self.state.values() if v.plain not in ("·",))
        status = Text(f"{done}/{len(self.state)} cells · {time.time() - self.t0:.0f}s · {self.activity}", style="cyan")
        return Group(table, status, Text(self.cluster, style="cyan")) if self.cluster else Group(table, status)


def run_request(request: Request, data_dir: Optional[Path], results, cache: ArtifactCache, overwrite: bool,
                dry_run: bool, fmt: str, executor: str = "local", address: Optional[str] = None,
                resources: Optional[dict] = None, live: bool = True, hub_repo: Optional[str] = None,
                data_revision: Optional[str] = None) -> list[CellResult]:
    """The one driver behind `run` and `matrix`: plan, say what is blocked, execute, report.
    `live=False` leaves the per-cell lines to the caller (`run` prints its own table)."""
    from rich.markup import escape

    from bright_eval.data import get_source
    from bright_eval.executors import EXECUTORS
    from bright_eval.plan import make_plan
    from bright_eval.storage import location

    if executor not in EXECUTORS:
        raise BrightEvalError(f"--executor must be one of {', '.join(EXECUTORS)}, got '{executor}'")
    if executor == "local" and (address or resources):
        raise BrightEvalError("--address and [matrix.resources] are for --executor ray")
    from bright_eval.storage import check_shared

    check_shared(location(results), executor)
    execute = _executor(executor, address, resources)
    source = get_source(data_dir, hub_repo, data_revision, revision_option="--data-revision")
    plan = make_plan(request, source, results, cache, overwrite)
    if dry_run:
        if fmt == "json":
            typer.echo(json.dumps({"plan": [_plan_row(c) for c in plan.cells], "counts": plan.counts()}))
        else:
            print_plan(plan)
        return []
    blocked = sorted({(c.task, c.reason) for c in plan.cells if c.status == "blocked"})
    if blocked and all(c.status == "blocked" for c in plan.cells):
        raise BrightEvalError("nothing can run: " + "; ".join(reason for _, reason in blocked))
    if blocked and fmt != "json":
        for task, reason in blocked:
            err.print(f"[yellow]blocked[/] {task}: {escape(reason)}", highlight=False, soft_wrap=True)
    if fmt == "json":
        progress_mod.set_enabled(False)
        with stdout_to_stderr():
            return execute(plan)
    if not live:
        return execute(plan)
    if not err.is_terminal:
        return execute(plan, on_event=_log_event)
    grid = LiveGrid(plan)
    progress_mod.set_enabled(False)  # a second live display would fight the grid for the same lines
    try:
        from rich.live import Live

        with Live(grid, console=err.console, refresh_per_second=4, transient=False):
            return execute(plan, on_event=grid.event)
    finally:
        progress_mod.set_enabled(True)


def _executor(name: str, address: Optional[str], resources: Optional[dict]):
    """execute(plan, on_event=...) for the chosen executor; ray is imported only when asked for."""
    if name == "local":
        from bright_eval.execute import execute

        return execute
    from bright_eval.errors import require

    require("ray", "ray", "--executor ray")
    from bright_eval.executors.ray_executor import execute_ray

    return lambda plan, on_event=None: execute_ray(plan, on_event or (lambda *a: None), address, resources)


def summarize(cells: list[CellResult], cache: ArtifactCache, results: Path, fmt: str) -> None:
    from rich.markup import escape

    summary = {s: sum(c.status == s for c in cells) for s in ("done", "reused", "failed", "blocked")}
    if fmt == "json":
        typer.echo(json.dumps({"cells": [c.__dict__ for c in cells], "summary": summary, "cache": cache.stats()}))
    elif fmt != "quiet":
        for c in cells:
            if c.status == "failed":
                err.print(f"[red]failed[/] {c.task} {escape(_system(c))}: {escape(c.error)}", highlight=False, soft_wrap=True)
        err.print(f"{summary['done']} computed, {summary['reused']} reused, {summary['failed']} failed, {summary['blocked']} blocked; "
                  f"cache {cache.stats()}; results in {escape(str(results))}", highlight=False, soft_wrap=True)
    if summary["failed"] or summary["blocked"]:
        raise typer.Exit(1)


def _warn_unused_tables(config, conf: dict, request) -> None:
    """An option table of the file whose component the command line left out does nothing: say so."""
    import logging

    used = {"rewriter_args": request.rewriters, "retriever_args": request.retrievers,
            "reranker_args": [r for r in request.rerankers if r is not None]}
    for table, refs in used.items():
        for name in set(conf.get(table, {})) - {r.spec for r in refs}:
            logging.getLogger(__name__).warning("%s: [matrix.%s.%s] is not used: '%s' is not among the %s of this run",
                                                config, table, name, name, table.split("_")[0] + "s")


def _system(c) -> str:
    return f"{c.rewriter} + {c.retriever}" + (f" >> {c.reranker}" if c.reranker else "")


def _log_event(kind: str, info: dict) -> None:
    from rich.markup import escape

    if kind == "cell":
        c: CellResult = info["cell"]
        what = f"nDCG@10 {100 * c.ndcg10:.2f}" if c.ndcg10 is not None else c.error
        err.print(f"{c.status:>7} {c.task} {escape(_system(c))}: {escape(what)}", highlight=False, soft_wrap=True)


def _plan_row(c) -> dict:
    return {"task": c.task, "rewriter": c.rewriter, "retriever": c.retriever, "reranker": c.reranker, "status": c.status,
            "reason": c.reason, "index_cached": c.index_cached, "rewrites_cached": c.rewrite_cached, "path": str(c.path)}


def print_plan(plan: Plan) -> None:
    from rich.markup import escape
    from rich.table import Table

    def mark(v):
        return {True: "cached", False: "to build", None: "?"}[v]

    table = Table(title="plan", title_justify="left")
    for col in ("task", "rewriter", "retriever", "reranker", "status", "index", "rewrites"):
        table.add_column(col)
    for c in plan.cells:
        status = {"reuse": "[dim]reuse[/]", "compute": f"[yellow]compute[/] ({escape(c.reason)})",
                  "blocked": f"[red]blocked[/] ({escape(c.reason)})"}[c.status]
        todo = c.status == "compute"
        table.add_row(c.task, escape(c.rewriter), escape(c.retriever), escape(c.reranker or ""), status,
                      mark(c.index_cached) if todo else "", mark(c.rewrite_cached) if todo else "")
    out.print(table)
    n = plan.counts()
    out.print(f"{len(plan.cells)} cells: {n['reuse']} reused, {n['compute']} to compute, {n['blocked']} blocked")


@app.command(help="""Cross rewriters x retrievers (x rerankers) x tasks; shared work is done once; finished cells are reused.

Names may carry options as results are named: `--retrievers "bm25,bm25(k1=1.2,b=0.75)"`. An
experiment file holds the same in a [matrix] table, with per-component option tables
[matrix.rewriter_args.NAME], [matrix.retriever_args.NAME], [matrix.reranker_args.NAME].""")
def matrix(
    ctx: typer.Context,
    rewriters: Optional[str] = typer.Option(None, "--rewriters", help="Comma-separated rewriter names."),
    retrievers: Optional[str] = typer.Option(None, "--retrievers", help="Comma-separated retriever names."),
    rerankers: Optional[str] = typer.Option(None, "--rerankers", help="Comma-separated rerankers (the first stage is kept too)."),
    tasks: Optional[str] = typer.Option(None, "--tasks", "-t", help="Comma-separated BRIGHT tasks, or 'all' (default)."),
    config: OptPath = typer.Option(None, "--config", help="experiment.toml with a [matrix] table; options given here win."),
    top_k: Optional[int] = typer.Option(None, "--top-k", min=1, help="Ranking depth kept per query (default 1000)."),
    long_documents: Optional[bool] = typer.Option(None, "--long-documents/--short-documents", help="BRIGHT's long documents."),
    rerank_depth: Optional[int] = typer.Option(None, "--rerank-depth", min=1, help="First-stage documents reranked (default 100)."),
    rerank_query: Optional[str] = typer.Option(None, "--rerank-query", help="original (BRIGHT's choice, default) or rewritten."),
    data_dir: OptPath = typer.Option(None, "--data-dir", envvar="BRIGHT_DATA_DIR", help="Local BRIGHT folder; default: the HF hub."),
    hub_repo: Optional[str] = HubRepo,
    data_revision: Optional[str] = DataRevision,
    results_dir: Optional[PlaceArg] = typer.Option(None, "--results-dir", envvar="BRIGHT_RESULTS_DIR", parser=results_location,
                                                   help="Results folder or fsspec URL, e.g. s3://bucket/runs (default results/runs)."),
    cache_dir: OptPath = typer.Option(None, "--cache-dir", envvar="BRIGHT_EVAL_CACHE", help="Cache for indexes, embeddings, rewrites."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (reuse / compute / blocked, with reasons); compute nothing."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Recompute cells that already have a results file."),
    fmt: str = typer.Option("table", "--format", help="table (live view) or json (one object on stdout)."),
    executor: Optional[str] = typer.Option(None, "--executor", help="local (default: this process) or ray (a Ray cluster)."),
    address: Optional[str] = typer.Option(None, "--address", envvar="RAY_ADDRESS",
                                          help="With --executor ray: auto, host:port or ray://host:port; default: start Ray on this machine."),
) -> None:
    from bright_eval.cache import ArtifactCache
    from bright_eval.experiment import build_request, read_config
    from bright_eval.storage import parse_location

    check_format(fmt)
    conf = read_config(config) if config else {}

    def pick(value, key, default):
        return value if value is not None else conf.get(key, default)

    rw_list = rewriters or conf.get("rewriters")
    ret_list = retrievers or conf.get("retrievers")
    if not rw_list or not ret_list:
        raise BrightEvalError("matrix needs --rewriters and --retrievers (or a --config that lists them)")
    request = build_request(rw_list, ret_list, pick(tasks, "tasks", "all"), conf, top_k=pick(top_k, "top_k", 1000),
                            long_documents=bool(pick(long_documents, "long_documents", False)),
                            rerankers=rerankers or conf.get("rerankers"), rerank_depth=pick(rerank_depth, "rerank_depth", 100),
                            rerank_query=pick(rerank_query, "rerank_query", "original"))
    _warn_unused_tables(config, conf, request)
    results = results_dir if results_dir is not None else parse_location(str(conf.get("results_dir", "results/runs")))
    cache = ArtifactCache(pick(cache_dir, "cache_dir", None))
    how = pick(executor, "executor", "local")
    # RAY_ADDRESS in the environment serves Ray runs and is ignored otherwise; an --address typed on the
    # command line or written in the file with a local executor would do nothing, so it is refused.
    # (typer vendors its own click, so the source is compared by name)
    typed = address if getattr(ctx.get_parameter_source("address"), "name", "") != "ENVIRONMENT" else None
    if how != "ray" and (typed or conf.get("address")):
        where = "--address" if typed else f"{config}: address"
        raise BrightEvalError(f"{where} is for --executor ray, but the executor is '{how}'")
    cells = run_request(request, pick(data_dir, "data_dir", None), results, cache, overwrite, dry_run, fmt, how,
                        pick(address, "address", None) if how == "ray" else None,
                        conf.get("resources") if how == "ray" else None, hub_repo=hub_repo, data_revision=data_revision)
    if not dry_run:
        summarize(cells, cache, results, fmt)
