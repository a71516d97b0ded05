"""`bright-eval report`: an ablation report (Markdown, HTML, JSON) against a baseline, from results files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from bright_eval.errors import BrightEvalError
from bright_eval.scoring import HEADLINE

from . import app, err
from .options import PlaceArg, ResultsDir


def _names(value: Optional[str]) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@app.command()
def report(
    results_dir: PlaceArg = ResultsDir,
    baseline: str = typer.Option("original", "--baseline", "-b", help="Baseline rewriter."),
    ablation: str = typer.Option("rewriter", "--ablation", help="rewriter (vs --baseline) or reranker (each reranked system vs its first stage)."),
    baseline_retriever: Optional[str] = typer.Option(None, "--baseline-retriever",
                                                     help="Fixed baseline retriever; default: each system's own retriever (rewriter ablation)."),
    rewriters: Optional[str] = typer.Option(None, "--rewriters", help="Only these systems' rewriters (comma-separated)."),
    retrievers: Optional[str] = typer.Option(None, "--retrievers", help="Only these systems' retrievers (comma-separated)."),
    out_dir: Path = typer.Option(Path("results/report"), "--out", "-o", help="Folder for report.md, report.html, report.json, figures/."),
    metric: str = typer.Option(HEADLINE, "--metric", help="Per-query metric compared."),
    rounds: int = typer.Option(10_000, "--rounds", min=100, help="Randomization and bootstrap rounds."),
    seed: int = typer.Option(0, "--seed", help="Seed of the randomization and bootstrap draws."),
    level: float = typer.Option(0.95, "--level", min=0.5, max=0.999, help="Confidence level of the intervals."),
    alpha: float = typer.Option(0.05, "--alpha", min=0.0, max=1.0, help="Significance marker threshold (Holm-adjusted per task)."),
    top_n: int = typer.Option(5, "--top", min=0, help="Largest wins and losses listed per system."),
    no_html: bool = typer.Option(False, "--no-html", help="Skip the HTML file."),
    results_settings: Optional[str] = typer.Option(None, "--settings",
        help="Only results made with these settings, e.g. 'top_k=100' ('' = BRIGHT's defaults)."),
    split_settings: bool = typer.Option(False, "--split-settings", help="Show results made with different settings as separate rows."),
    fmt: str = typer.Option("table", "--format", help="table (summary on screen) or json (the report object on stdout)."),
    explorer: Optional[str] = typer.Option(None, "--explorer",
        help="Link tasks and queries to `bright-eval explore`'s site: its index.html (relative to --out, or a URL)."),
) -> None:
    """Per-task deltas, paired significance (t-test, randomization, Holm), CIs, W/T/L, plots, wins and losses."""
    from bright_eval.ablation_report import Settings, build_report, write_report
    from bright_eval.io import check_writable_dir

    if fmt not in ("table", "json"):
        raise BrightEvalError(f"--format must be 'table' or 'json', got '{fmt}'")
    check_writable_dir(out_dir, "--out")
    from bright_eval.storage import check_results_dir

    check_results_dir(results_dir)
    settings = Settings(metric=metric, rounds=rounds, seed=seed, level=level, alpha=alpha, top_n=top_n)
    rep = build_report(results_dir, baseline, baseline_retriever, _names(rewriters), _names(retrievers), settings,
                       results_settings, split_settings, ablation)
    if explorer:
        rep["explorer"] = explorer
    paths = write_report(rep, out_dir, html_too=not no_html)
    if fmt == "json":
        typer.echo(json.dumps(rep))
        return
    from rich.table import Table

    from .render import esc, out

    table = Table(title=esc(f"Δ {metric} x100 vs baseline '{baseline}' (macro over tasks)"), title_justify="left")
    for col in ("rewriter", "retriever", "tasks", "Δ", f"{int(100 * level)}% CI", "p rand", "p t pooled", "W/T/L"):
        table.add_column(col, justify="left" if col in ("rewriter", "retriever") else "right", overflow="fold")
    for c in rep["comparisons"]:
        o = c["overall"]
        table.add_row(esc(c["rewriter"]), esc(c["retriever"]), str(o["tasks"]), f"{100 * o['delta']:+.2f}",
                      f"[{100 * o['ci'][0]:+.2f}, {100 * o['ci'][1]:+.2f}]", f"{o['p_rand_macro']:.4g}", f"{o['p_t_pooled']:.4g}",
                      f"{o['wins']}/{o['ties']}/{o['losses']}")
    out.print(table)
    err.print("report written: " + ", ".join(esc(p) for p in paths.values()), highlight=False, soft_wrap=True)
