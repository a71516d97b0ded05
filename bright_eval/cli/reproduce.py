"""`bright-eval reproduce`: published rows, run here and checked against the published numbers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from bright_eval.errors import BrightEvalError

from . import app, err
from .options import CacheDir, DataDir, HubRepo, OptPath, PlaceArg, results_location
from .render import esc, out

if TYPE_CHECKING:
    from rich.table import Table

_STYLE = {"OK": "green", "OKish": "yellow", "FAIL": "bold red", "skip": "dim"}  # bright_eval.reproduce's verdicts


def _v(verdict: str) -> str:
    style = _STYLE.get(verdict)
    return f"[{style}]{verdict}[/]" if style else verdict


def _list_table(plans: list) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(title="published rows: bright-eval reproduce ROW...", title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False)
    table.add_column("row", no_wrap=True)
    table.add_column("system; published in", ratio=3)
    table.add_column("needs", no_wrap=True)
    table.add_column("runs here?", ratio=2)
    for p in plans:
        needs = [n.replace("documents", "docs") for n in p.row.needs]
        here = p.status
        here = f"[green]{here}[/]" if here == "yes" else f"[yellow]{esc(here)}[/]"
        table.add_row(esc(p.row.id), f"{esc(p.rewriter)} + {esc(p.row.retriever)}\n[dim]{esc(p.row.cite)}[/]",
                      esc(",".join(needs)), here)
    return table


_METRIC = {"ndcg@10": "nDCG@10", "recall@100": "R@100", "recall@1000": "R@1k", "recall@1": "R@1"}


def _print_outcome(o) -> None:
    from rich import box
    from rich.table import Table

    from bright_eval.reproduce import revision_warning

    head = f"[bold]{esc(o.row.id)}[/]: {esc(o.plan.rewriter)} + {esc(o.row.retriever)} [dim]vs {esc(o.row.cite)}[/]"
    if o.plan.blocked or not o.plan.tasks:
        out.print(f"{head}\n  skipped: {esc(o.plan.status[4:])}", highlight=False)
        return
    table = Table(title=head, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("task", "metric", "measured", "published", "Δ", "tol.", "verdict"):
        table.add_column(col, justify="left" if col in ("task", "metric", "verdict") else "right", no_wrap=True)
    for c in o.checks:
        if c.task in o.plan.skipped:
            continue  # listed once below
        fmt = (lambda v: "–" if v is None else f"{v:.2f}")
        table.add_row(c.task, _METRIC.get(c.metric, c.metric), fmt(c.measured), fmt(c.expected),
                      "–" if c.diff is None else f"{c.diff:+.2f}", f"{c.tolerance:g}", _v(c.verdict))
    out.print(table)
    reasons: dict[str, list[str]] = {}
    for task, why in o.plan.skipped.items():
        reasons.setdefault(why, []).append(task)
    for why, ts in reasons.items():
        out.print(f"  [dim]skipped ({esc(why)}): {', '.join(ts)}[/]", highlight=False)
    for task, msg in o.errors.items():
        out.print(f"  [red]{task} failed[/]: {esc(msg)}", highlight=False)
    warn = revision_warning(o.row, o.revision)
    if warn:
        out.print(f"  [yellow]note[/]: {esc(warn)}", highlight=False)
    out.print(f"  verdict: {_v(o.verdict)}\n", highlight=False)


@app.command()
def reproduce(
    rows: Optional[list[str]] = typer.Argument(None, help="Row ids (see --list)."),
    all_rows: bool = typer.Option(False, "--all", help="Every published row (those this machine cannot run are skipped, with the reason)."),
    list_rows: bool = typer.Option(False, "--list", help="List the published rows and whether this machine can run them."),
    tasks: Optional[str] = typer.Option(None, "--tasks", "-t", help="Only these tasks of each row (a published average is then not checked)."),
    data_dir: OptPath = DataDir,
    hub_repo: Optional[str] = HubRepo,
    revision: Optional[str] = typer.Option(None, "--revision", envvar="BRIGHT_REVISION", help="Pin BRIGHT's hub revision (branch, tag or commit)."),
    results_dir: PlaceArg = typer.Option("results/reproduce/runs", "--results-dir", parser=results_location,
                                         help="Results files, one folder per row (reused on rerun): a folder or a URL such as s3://bucket/runs."),
    cache_dir: OptPath = CacheDir,
    out_dir: Path = typer.Option(Path("results/reproduce"), "--out", help="Where reproduce.md, reproduce.html and reproduce.json go."),
    strict: bool = typer.Option(False, "--strict", help="Exit with status 1 when any check FAILs."),
) -> None:
    """Run published rows and compare, per task, with the published numbers: OK (within the row's
    tolerance), OKish (within its OKish band, 2 x tolerance unless stated), FAIL."""
    from bright_eval.cache import ArtifactCache
    from bright_eval.data import Versioned, get_source
    from bright_eval.reproduce import FAIL, OK, OKISH, Machine, load_rows, plan, run_rows, select
    from bright_eval.reproduce_report import write
    from bright_eval.tasks import parse_tasks

    all_published = load_rows()
    chosen = all_published if list_rows and not rows else select(all_published, rows or [], all_rows)
    source = get_source(data_dir, hub_repo, revision)
    try:
        if isinstance(source, Versioned):
            source.check()
    except BrightEvalError as exc:
        if not list_rows:
            raise
        err.print(f"[yellow]data[/]: {esc(exc)}", highlight=False, soft_wrap=True)
    machine = Machine.detect()
    wanted = parse_tasks(tasks) if tasks else None
    plans = [plan(r, source, machine, wanted) for r in chosen]
    if list_rows:
        out.print(_list_table(plans))
        out.print(f"[dim]data: {esc(source.description)}; GPU: {'yes' if machine.gpu else 'no'}[/]", highlight=False)
        return
    if wanted:
        # A published average is over all of a row's tasks: with a subset, only per-task values are checked
        # (and their mean over the subset).
        import dataclasses

        def subset(row):
            expected = {m: {t: v for t, v in e.items() if t != "average"} for m, e in row.expected.items()}
            return dataclasses.replace(row, tasks=tuple(t for t in row.tasks if t in wanted), expected=expected)

        plans = [dataclasses.replace(p, row=subset(p.row)) for p in plans]
    out.print(f"[dim]data: {esc(source.description)}[/]", highlight=False)
    if data_dir and (Path(data_dir) / "PROXY.md").exists():
        out.print("[yellow]note[/]: this is the answer-retrieval proxy, not BRIGHT's corpus: its numbers are not "
                  "comparable with the published ones, so FAIL is the honest verdict here", highlight=False)
    outcomes = run_rows(plans, source, results_dir, ArtifactCache(cache_dir), on_row=_print_outcome)
    paths = write(outcomes, source.description, out_dir)
    counts = {v: sum(o.verdict == v and not o.plan.blocked and bool(o.plan.tasks) for o in outcomes) for v in (OK, OKISH, FAIL)}
    skipped = sum(bool(o.plan.blocked) or not o.plan.tasks for o in outcomes)
    out.print(f"rows: {counts[OK]} OK, {counts[OKISH]} OKish, {counts[FAIL]} FAIL, {skipped} skipped; "
              f"summary: {', '.join(esc(p) for p in paths)}", highlight=False)
    if strict and counts[FAIL]:
        raise typer.Exit(1)
