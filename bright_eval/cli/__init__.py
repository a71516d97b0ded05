"""The `bright-eval` command line. Each command group lives in its own module and registers itself
on `app`; `main` turns user errors into one red line instead of a traceback."""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console
from rich.logging import RichHandler

from bright_eval.errors import BrightEvalError

app = typer.Typer(
    name="bright-eval",
    help="Evaluate query rewriters x retrievers on BRIGHT, and train reasoning query rewriters.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err = Console(stderr=True)

# Command modules register on `app` when imported (order = order in --help).
from . import run as _run  # noqa: E402,F401
from . import data as _data  # noqa: E402,F401
# -- more command modules below --
from . import rewrite as _rewrite  # noqa: E402,F401
from . import rerankers as _rerankers  # noqa: E402,F401
from . import train as _train  # noqa: E402,F401
from . import matrix as _matrix  # noqa: E402,F401
from . import leaderboard as _leaderboard  # noqa: E402,F401
from . import report as _report  # noqa: E402,F401


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[RichHandler(console=err, show_path=False, show_time=False)])
    try:
        app()
    except BrightEvalError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]: results already written are kept; rerun the same command to resume")
        sys.exit(130)
