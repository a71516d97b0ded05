"""`bright-eval explore`: a per-query explorer of rewrites and rankings, built from results files."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from bright_eval.errors import BrightEvalError
from bright_eval.scoring import HEADLINE

from . import app, err
from .options import OptPath, ResultsDir


@app.command()
def explore(
    results_dir: Path = ResultsDir,
    out: OptPath = typer.Option(None, "--out", "-o",
        help="Folder for the site (default explore/); with --single-file, the HTML file (default explore.html)."),
    baseline: str = typer.Option("original", "--baseline", "-b", help="Baseline rewriter (each system vs it under its own retriever)."),
    systems: Optional[str] = typer.Option(None, "--systems",
        help="Only these systems (comma-separated rewriters, retrievers or 'rewriter + retriever' labels); default: all."),
    data_dir: OptPath = typer.Option(None, "--data-dir", envvar="BRIGHT_DATA_DIR",
        help="Local BRIGHT folder for gold/excluded ids, reasoning notes and document texts; default: the folder the results name."),
    metric: str = typer.Option(HEADLINE, "--metric", help="Metric of the leaderboard, the deltas and the default contrast."),
    depth: int = typer.Option(10, "--depth", min=1, max=100, help="Documents shown per system, and compared by Kendall's tau and RBO."),
    doc_chars: int = typer.Option(600, "--doc-chars", min=0, help="Characters of each shown document's text (0: no texts)."),
    no_terms: bool = typer.Option(False, "--no-terms", help="Skip BM25 term contributions (they load or build the BM25 index per task)."),
    report: Optional[str] = typer.Option(None, "--report",
        help="Link the overview to this significance report (report.html; a path relative to the site, or a URL)."),
    single_file: bool = typer.Option(False, "--single-file", help="Write one self-contained HTML file (to attach to a review or an email)."),
    serve: bool = typer.Option(False, "--serve", help="Serve the site on 127.0.0.1 after writing it (Ctrl-C stops)."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port for --serve (0: any free port)."),
    settings: Optional[str] = typer.Option(None, "--settings",
        help="Only results made with these settings, e.g. 'top_k=100' ('' = BRIGHT's defaults)."),
    split_settings: bool = typer.Option(False, "--split-settings", help="Show results made with different settings as separate systems."),
) -> None:
    """Static site (opens from file://): leaderboard, per-task query lists sorted by a contrast, per-query rewrites and rankings."""
    from bright_eval.explore.pages import Options, source_for
    from bright_eval.explore.site import build_site
    from bright_eval.explore.site import serve as serve_site
    from bright_eval.explore.systems import find_systems
    from bright_eval.io import check_writable_dir, check_writable_file
    from bright_eval.results import load_results
    from bright_eval.scoring import METRICS

    if metric not in METRICS:
        raise BrightEvalError(f"--metric: unknown metric '{metric}'; choose one of {', '.join(METRICS)}")
    if serve and single_file:
        raise BrightEvalError("--serve serves the site's folder; --single-file needs no server (open the file), drop one of them")
    if not results_dir.exists():
        raise BrightEvalError(f"results folder {results_dir} does not exist (--results-dir)")
    if not results_dir.is_dir():
        raise BrightEvalError(f"--results-dir {results_dir}: is a file, not a folder; expected the folder `run`/`matrix` wrote")
    out = out or Path("explore.html" if single_file else "explore")
    if single_file:
        if out.is_dir():
            raise BrightEvalError(f"--out {out}: is a folder; with --single-file it names the HTML file to write, e.g. {out / 'explore.html'}")
        check_writable_file(out, "--out")
    else:
        if out.exists() and not out.is_dir():
            raise BrightEvalError(f"--out {out}: is a file; without --single-file it names the site's folder")
        check_writable_dir(out, "--out")
    records = load_results(results_dir)
    if not records:
        raise BrightEvalError(f"no results files under {results_dir} (--results-dir); expected the JSON files `run`/`matrix` wrote")
    only = [s.strip() for s in systems.split(",") if s.strip()] if systems else None
    find_systems(records, baseline, only, settings, split_settings)  # bad --baseline / --systems fail before any work
    sources = {str(r.data.get("source")) for r in records if r.data.get("source")}
    named = sorted(sources)[0] if sources else None
    if len(sources) > 1 and not data_dir:
        err.print(f"[yellow]warning[/]: the results come from {len(sources)} data sources ({', '.join(sorted(sources))}); "
                  f"reading {named}; pass --data-dir to choose", highlight=False, soft_wrap=True)
    source, note = source_for(named, data_dir)
    if source is None:
        err.print(f"[yellow]warning[/]: {note}: no gold marks, reasoning notes or document texts", highlight=False, soft_wrap=True)
    opts = Options(baseline=baseline, metric=metric, depth=depth, doc_chars=doc_chars, terms=not no_terms, report=report)
    built = build_site(records, out, source, note, opts, only, settings, split_settings, single_file,
                       say=lambda s: err.print(s, highlight=False, soft_wrap=True))
    where = out if single_file else out / "index.html"
    err.print(f"explorer written to {where}: {built.systems} systems, {built.tasks} tasks, {built.queries} queries, "
              f"{built.files} files, {built.bytes / 1e6:.1f} MB, {built.seconds:.1f} s", highlight=False, soft_wrap=True)
    if serve:
        serve_site(out, port, lambda s: err.print(s, highlight=False, soft_wrap=True))
