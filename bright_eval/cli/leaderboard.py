"""`bright-eval leaderboard`: the results folder as a table (rich, Markdown, CSV, LaTeX or JSON)."""

from __future__ import annotations

from typing import Optional

import typer

from bright_eval.errors import BrightEvalError
from bright_eval.scoring import HEADLINE
from bright_eval.tasks import parse_tasks

from . import app, err
from .options import OptPath, PlaceArg, ResultsDir
from .render import esc, out


@app.command()
def leaderboard(
    results_dir: PlaceArg = ResultsDir,
    fmt: str = typer.Option("table", "--format", help="One of: table, markdown, csv, latex, json."),
    settings: Optional[str] = typer.Option(None, "--settings",
        help="Only results made with these settings, e.g. 'top_k=100' ('' = BRIGHT's defaults)."),
    split_settings: bool = typer.Option(False, "--split-settings", help="Show results made with different settings as separate rows."),
    metric: str = typer.Option(HEADLINE, "--metric", help="Metric column values (reported rows exist for ndcg@10 only)."),
    tasks: Optional[str] = typer.Option(None, "--tasks", "-t", help="Only these tasks (comma-separated); default: all found."),
    reported: bool = typer.Option(False, "--reported/--no-reported", help="Add the papers' reported rows and measured-minus-reported rows."),
    reported_filter: Optional[str] = typer.Option(None, "--reported-filter",
        help="Keep reported rows whose source/system contains this text, e.g. 2407.12883."),
    reported_file: OptPath = typer.Option(None, "--reported-file",
        help="Another reported.tsv (columns: source, via, rewriter, retriever, task, ndcg@10)."),
    mteb_results: OptPath = typer.Option(None, "--mteb-results",
        help="MTEB results folder (results/<model>/<revision>/BrightRetrieval.json, e.g. a clone of "
             "embeddings-benchmark/results or an `export --format mteb` output): its BRIGHT scores as reported rows."),
    digits: int = typer.Option(1, "--digits", min=0, max=6, help="Decimals in table, Markdown and LaTeX (CSV and JSON are unrounded)."),
    output: OptPath = typer.Option(None, "--out", "-o", "--output", help="Write to this file instead of stdout."),
) -> None:
    """One row per (rewriter, retriever), per-task columns in BRIGHT's order and the average."""
    from bright_eval.io import atomic_write_text, check_writable_file
    from bright_eval.scoreboard import FORMATS, build, render, to_rich

    if fmt not in FORMATS:
        raise BrightEvalError(f"--format must be one of {', '.join(FORMATS)}, got '{fmt}'")
    if output is not None:
        check_writable_file(output, "--out")
    from bright_eval.storage import check_results_dir

    check_results_dir(results_dir)
    lb = build(results_dir, metric, reported or bool(reported_filter), reported_filter,
               parse_tasks(tasks) if tasks else None, reported_file, settings, split_settings, mteb_results)
    if not any(r.kind == "measured" for r in lb.rows):
        err.print(f"[yellow]warning[/]: no results files under {esc(results_dir)}", highlight=False)
    if fmt == "table" and output is None:
        out.print(to_rich(lb, digits))
        for i, src in enumerate(lb.sources, 1):
            out.print(f"[dim][{i}] {esc(src)} (reported)[/]", highlight=False)
        for row in lb.rows:
            for note in row.notes if row.kind == "measured" else ():
                out.print(f"[yellow]note[/] {esc(row.rewriter)} + {esc(row.retriever)}: {esc(note)}", highlight=False)
        return
    text = render(lb, "markdown" if fmt == "table" else fmt, digits)
    if output is not None:
        atomic_write_text(output, text)
        err.print(f"leaderboard written to {esc(output)}", highlight=False)
    else:
        typer.echo(text, nl=False)
