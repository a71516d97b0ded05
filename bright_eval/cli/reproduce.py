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

_STYLE = {"OK": "green", "OKish": "yellow", "FAIL": "bold red", "UNVERIFIED": "magenta", "skip": "dim"}  # bright_eval.reproduce's verdicts


def _v(verdict: str) -> str:
    style = _STYLE.get(verdict)
    return f"[{style}]{verdict}[/]" if style else verdict


def _decimals(row) -> int:
    """As many decimals as the row's source prints (27.9 for the TongSearch-QR paper, 34.46 for QueryGym)."""
    values = [v for per_task in row.expected.values() for v in per_task.values()]
    return max((len(f"{v}".partition(".")[2]) for v in values), default=1) or 1


def _list_table(plans: list) -> Table:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from bright_eval.reproduce import published_average

    table = Table(title="published rows: bright-eval reproduce ROW...", title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False)
    table.add_column("row", no_wrap=True)
    table.add_column("avg", justify="right", no_wrap=True)  # the published average: what a user is about to check
    table.add_column("system; published in", ratio=1)
    table.add_column("runs here?", ratio=1)
    for p in plans:
        needs = ",".join(n.replace("documents", "docs") for n in p.row.needs)
        here = p.status
        here = f"[green]{here}[/]" if here == "yes" else f"[yellow]{escape(here)}[/]"
        avg = published_average(p.row)
        args = ",".join(f"{k}={v}" for k, v in sorted(p.row.rewriter_args.items()))
        system = f"{p.rewriter}{f'({args})' if args else ''} + {p.row.retriever}"
        table.add_row(escape(p.row.id), "–" if avg is None else f"{avg:.{_decimals(p.row)}f}",
                      f"{escape(system)}\n[dim]{escape(p.row.cite)}[/]", f"{here}\n[dim]needs: {escape(needs)}[/]")
    return table


_METRIC = {"ndcg@10": "nDCG@10", "recall@100": "R@100", "recall@1000": "R@1k", "recall@1": "R@1"}


def _print_outcome(o) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from bright_eval.reproduce import revision_warning
    from bright_eval.reproduce_report import unverified_by_reason

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
        out.print(f"  [red]{task} failed[/]: {escape(msg)}", highlight=False)
    for why, ts in unverified_by_reason(o).items():
        out.print(f"  [magenta]UNVERIFIED[/] ({', '.join(ts)}): {escape(why)}", highlight=False)
    if o.subset_note():
        out.print(f"  [dim]{escape(o.subset_note())}[/]", highlight=False)
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
    strict: bool = typer.Option(False, "--strict", help="Exit with status 1 when any check FAILs, or when nothing was verified "
                                "(every row skipped or UNVERIFIED)."),
) -> None:
    """Run published rows and compare, per task, with the published numbers: OK (within the row's
    tolerance), OKish (within its OKish band, 2 x tolerance unless stated), FAIL; UNVERIFIED when the
    data is not known to be BRIGHT (docs/reproduce-and-verdicts.md, "What a verdict means")."""
    from rich.markup import escape

    from bright_eval.bright_identity import PROXY_REASON, Identity
    from bright_eval.cache import ArtifactCache
    from bright_eval.data import Versioned, get_source
    from bright_eval.reproduce import FAIL, OK, OKISH, UNVERIFIED, Machine, load_rows, plan, restrict, run_rows, select
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
        import dataclasses

        plans = [dataclasses.replace(p, row=restrict(p.row, wanted)) for p in plans]
    identity = Identity(source)
    data = source.description + (" (the answer-retrieval proxy, not BRIGHT)" if identity.provenance() == PROXY_REASON else "")
    out.print(f"[dim]data: {escape(data)}[/]", highlight=False)
    if identity.provenance():
        out.print(f"[magenta]UNVERIFIED[/]: {escape(identity.provenance())}; numbers measured here are shown but not judged",
                  highlight=False, soft_wrap=True)
    outcomes = run_rows(plans, source, results_dir, ArtifactCache(cache_dir), on_row=_print_outcome, identity=identity)
    paths = write(outcomes, data, out_dir)
    counts = {v: sum(o.verdict == v and o.ran for o in outcomes) for v in (OK, OKISH, FAIL, UNVERIFIED)}
    skipped = sum(not o.ran for o in outcomes)
    out.print(f"rows: {counts[OK]} OK, {counts[OKISH]} OKish, {counts[FAIL]} FAIL, {counts[UNVERIFIED]} UNVERIFIED, "
              f"{skipped} skipped; summary: {', '.join(str(p) for p in paths)}", highlight=False)
    if strict and counts[FAIL]:
        err.print(f"--strict: {counts[FAIL]} row(s) FAIL", highlight=False)
        raise typer.Exit(1)
    if strict and not (counts[OK] + counts[OKISH]):
        err.print(f"--strict: nothing was verified ({counts[UNVERIFIED]} row(s) UNVERIFIED, {skipped} skipped)", highlight=False)
        raise typer.Exit(1)
