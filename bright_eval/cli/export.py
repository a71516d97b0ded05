"""`bright-eval export`: results files in MTEB's results-repository layout or as QueryGym runs."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import typer

from . import app, err
from .options import ResultsDir


def _names(value: Optional[str]) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@app.command()
def export(
    fmt: Literal["mteb", "querygym"] = typer.Option(..., "--format",
        help="mteb: results/<model>/<revision>/BrightRetrieval.json + model_meta.json (MTEB's results repository); "
             "querygym: one run per task in QueryGym's reproducibility schema v1."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write into (created if missing)."),
    results_dir: Path = ResultsDir,
    rewriter: Optional[str] = typer.Option(None, "--rewriter", "-r", help="Only these rewriters (comma-separated)."),
    retriever: Optional[str] = typer.Option(None, "--retriever", "-m", help="Only these retrievers (comma-separated)."),
    task: Optional[str] = typer.Option(None, "--task", "-t", help="Only these BRIGHT tasks (comma-separated)."),
    settings: Optional[str] = typer.Option(None, "--settings",
        help="Only results made with these settings, e.g. 'top_k=100' ('' = BRIGHT's defaults)."),
    model_name: Optional[str] = typer.Option(None, "--model-name",
        help="mteb: the model name to write (default bright-eval/<rewriter>+<retriever>); needs exactly one system "
             "selected."),
    model_revision: Optional[str] = typer.Option(None, "--model-revision",
        help="mteb: the revision folder (default: a hash of the system's configuration on record)."),
) -> None:
    """Write selected results in another project's format; numbers are read from results files, never recomputed."""
    from bright_eval.exports import export as do_export
    from bright_eval.exports import select
    from bright_eval.io import check_writable_dir

    check_writable_dir(out, "--out")
    records = select(results_dir, _names(rewriter), _names(retriever), _names(task), settings)
    written = do_export(fmt, records, Path(out), model_name, model_revision)
    for path in written:
        err.print(f"wrote {path}", highlight=False, soft_wrap=True)
    err.print(f"{len(written)} {fmt} result file(s) written into {out}, from {len(records)} selected results", highlight=False)
