"""`bright-eval matrix`: rewriters x retrievers x tasks, resumable, with a live view."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from bright_eval import progress as progress_mod
from bright_eval.cache import ArtifactCache
from bright_eval.data import get_source
from bright_eval.errors import BrightEvalError
from bright_eval.matrix import CellResult, MatrixSpec, plan_matrix, read_config, run_matrix

from . import app, err
from .options import OptPath
from .render import check_format


class LiveGrid:
    """One row per (rewriter, retriever), one column per task: the leaderboard filling in as cells finish."""

    def __init__(self, spec: MatrixSpec):
        self.spec = spec
        self.state: dict[tuple[str, str, str], Text] = {c: Text("·", style="dim") for c in spec.cells()}
        self.activity = "starting"
        self.t0 = time.time()

    def event(self, kind: str, info: dict) -> None:
        if kind == "cell":
            c: CellResult = info["cell"]
            if c.status == "failed":
                self.state[(c.rewriter, c.retriever, c.task)] = Text("failed", style="bold red")
            else:
                val = f"{100 * c.ndcg10:.1f}" if c.ndcg10 is not None else "?"
                self.state[(c.rewriter, c.retriever, c.task)] = Text(val, style="green" if c.status == "done" else "dim")
        elif kind == "index":
            self.activity = f"indexing {info['task']} with {info['retriever']}"
            for rw in self.spec.rewriters:
                if self.state[(rw, info["retriever"], info["task"])].plain == "·":
                    self.state[(rw, info["retriever"], info["task"])] = Text("…", style="yellow")
        elif kind == "rewrite":
            self.activity = f"rewriting {info['task']} with {info['rewriter']}"
        elif kind == "search":
            self.activity = f"searching {info['task']}: {info['rewriter']} + {info['retriever']}"
        elif kind == "task":
            self.activity = f"loading {info['task']}"

    def __rich__(self):
        table = Table(title="nDCG@10 x100 (dim: reused, green: computed now)", title_justify="left")
        table.add_column("rewriter")
        table.add_column("retriever")
        for t in self.spec.tasks:
            table.add_column(t[:10], justify="right")
        for rw in self.spec.rewriters:
            for ret in self.spec.retrievers:
                table.add_row(rw, ret, *(self.state[(rw, ret, t)] for t in self.spec.tasks))
        done = sum(1 for v in self.state.values() if v.plain not in ("·", "…"))
        status = Text(f"{done}/{len(self.state)} cells · {time.time() - self.t0:.0f}s · {self.activity}", style="cyan")
        return Group(table, status)


@app.command()
def matrix(
    rewriters: Optional[str] = typer.Option(None, "--rewriters", help="Comma-separated rewriter names."),
    retrievers: Optional[str] = typer.Option(None, "--retrievers", help="Comma-separated retriever names."),
    tasks: Optional[str] = typer.Option(None, "--tasks", "-t", help="Comma-separated BRIGHT tasks, or 'all' (default)."),
    config: OptPath = typer.Option(None, "--config", help="experiment.toml with a [matrix] table; options given here win."),
    top_k: Optional[int] = typer.Option(None, "--top-k", min=1, help="Ranking depth kept per query (default 1000)."),
    long_documents: Optional[bool] = typer.Option(None, "--long-documents/--short-documents", help="BRIGHT's long documents."),
    data_dir: OptPath = typer.Option(None, "--data-dir", envvar="BRIGHT_DATA_DIR", help="Local BRIGHT folder; default: the HF hub."),
    results_dir: OptPath = typer.Option(None, "--results-dir", envvar="BRIGHT_RESULTS_DIR", help="Results folder (default results/runs)."),
    cache_dir: OptPath = typer.Option(None, "--cache-dir", envvar="BRIGHT_EVAL_CACHE", help="Cache for indexes, embeddings, rewrites."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan and what is cached; compute nothing."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Recompute cells that already have a results file."),
    fmt: str = typer.Option("table", "--format", help="table (live view) or json (one object on stdout)."),
) -> None:
    """Cross rewriters x retrievers x tasks; shared work done once; finished cells are skipped on rerun."""
    check_format(fmt)
    conf = read_config(config) if config else {}

    def pick(value, key, default):
        return value if value is not None else conf.get(key, default)

    rw_list = rewriters.split(",") if rewriters else conf.get("rewriters", [])
    ret_list = retrievers.split(",") if retrievers else conf.get("retrievers", [])
    if not rw_list or not ret_list:
        raise BrightEvalError("matrix needs --rewriters and --retrievers (or a --config that lists them)")
    task_spec = pick(tasks, "tasks", "all")
    spec = MatrixSpec([r.strip() for r in rw_list if r.strip()], [r.strip() for r in ret_list if r.strip()],
                      task_spec, pick(top_k, "top_k", 1000), bool(pick(long_documents, "long_documents", False)),
                      conf.get("rewriter_options", {}), conf.get("retriever_options", {}))
    results = Path(pick(results_dir, "results_dir", Path("results/runs")))
    cache = ArtifactCache(pick(cache_dir, "cache_dir", None))
    source = get_source(pick(data_dir, "data_dir", None))
    if fmt == "json":
        progress_mod.set_enabled(False)

    if dry_run:
        rows = plan_matrix(spec, source, results, cache)
        if fmt == "json":
            typer.echo(json.dumps({"plan": rows}))
            return
        _print_plan(rows)
        return

    if fmt == "json" or not err.is_terminal:
        cells = run_matrix(spec, source, results, cache, overwrite, on_event=_log_event if fmt != "json" else lambda *_: None)
    else:
        grid = LiveGrid(spec)
        progress_mod.set_enabled(False)  # a second live display would fight the grid for the same lines
        try:
            with Live(grid, console=err, refresh_per_second=4, transient=False):
                cells = run_matrix(spec, source, results, cache, overwrite, on_event=grid.event)
        finally:
            progress_mod.set_enabled(True)
    summary = {s: sum(c.status == s for c in cells) for s in ("done", "reused", "failed")}
    if fmt == "json":
        typer.echo(json.dumps({"cells": [c.__dict__ for c in cells], "summary": summary, "cache": cache.stats()}))
    else:
        for c in cells:
            if c.status == "failed":
                err.print(f"[red]failed[/] {c.task} {c.rewriter} + {c.retriever}: {c.error}", highlight=False, soft_wrap=True)
        err.print(f"{summary['done']} computed, {summary['reused']} reused, {summary['failed']} failed; "
                  f"cache {cache.stats()}; results in {results}", highlight=False, soft_wrap=True)
    if summary["failed"]:
        raise typer.Exit(1)


def _log_event(kind: str, info: dict) -> None:
    if kind == "cell":
        c: CellResult = info["cell"]
        what = f"nDCG@10 {100 * c.ndcg10:.2f}" if c.ndcg10 is not None else c.error
        err.print(f"{c.status:>6} {c.task} {c.rewriter} + {c.retriever}: {what}", highlight=False, soft_wrap=True)


def _print_plan(rows: list[dict]) -> None:
    def mark(v):
        return {True: "cached", False: "to build", None: "?"}[v]

    table = Table(title="matrix plan", title_justify="left")
    for col in ("task", "rewriter", "retriever", "results", "index", "rewrites"):
        table.add_column(col)
    for r in rows:
        reuse = r["results"] == "reuse"
        table.add_row(r["task"], r["rewriter"], r["retriever"],
                      {"reuse": "[dim]reuse[/]", "run": "[yellow]run[/]", "stale": "[red]run (config changed)[/]"}[r["results"]],
                      "" if reuse else mark(r.get("index")), "" if reuse else mark(r.get("rewrite")))
    from .render import out

    out.print(table)
    n_run = sum(r["results"] != "reuse" for r in rows)
    out.print(f"{len(rows)} cells: {len(rows) - n_run} reused, {n_run} to run")
