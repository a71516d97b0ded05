"""Options shared by every command, with environment-variable defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

DataDir = typer.Option(None, "--data-dir", envvar="BRIGHT_DATA_DIR",
                       help="Local BRIGHT folder (layout of shared/bright + documents.jsonl[.gz]); default: the HF hub.")
ResultsDir = typer.Option(Path("results/runs"), "--results-dir", envvar="BRIGHT_RESULTS_DIR", help="Where results files are written and read.")
CacheDir = typer.Option(None, "--cache-dir", envvar="BRIGHT_EVAL_CACHE", help="Cache for indexes, embeddings and rewrites (default ~/.cache/bright-eval).")
Tasks = typer.Option("all", "--tasks", "-t", help="Comma-separated BRIGHT tasks, or 'all'.")
Format = typer.Option("table", "--format", help="table (rich) or json (one JSON object on stdout).")
TopK = typer.Option(1000, "--top-k", min=1, help="Ranking depth kept per query (BRIGHT: 1000).")

OptPath = Optional[Path]
