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
from . import components as _components  # noqa: E402,F401
from . import data as _data  # noqa: E402,F401
from . import leaderboard as _leaderboard  # noqa: E402,F401
from . import matrix as _matrix  # noqa: E402,F401
from . import report as _report  # noqa: E402,F401
from . import reproduce as _reproduce  # noqa: E402,F401
from . import rerankers as _rerankers  # noqa: E402,F401

# -- more command modules below --
from . import rewrite as _rewrite  # noqa: E402,F401
from . import run as _run  # noqa: E402,F401
from . import train as _train  # noqa: E402,F401

# Libraries that log every HTTP request or retry at INFO; shown only with --verbose.
NOISY = ("httpx", "httpcore", "openai", "urllib3", "huggingface_hub", "datasets", "filelock", "sentence_transformers")


@app.callback()
def _options(verbose: bool = typer.Option(False, "--verbose", "-v", help="Show debug logs, per-request HTTP lines and tracebacks.")) -> None:
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)


class _Once(logging.Filter):
    """Hub clients repeat the same retry warning per file; one line says it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if msg in self.seen:
            return False
        self.seen.add(msg)
        return True


def _interrupted(exc: BaseException) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def main() -> None:
    handler = RichHandler(console=err, show_path=False, show_time=False)
    handler.addFilter(_Once())
    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[handler])
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        app()
    except BrightEvalError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        _say_interrupted()
        sys.exit(130)
    except SystemExit as exc:
        # typer turns Ctrl-C into a silent exit 130; say what was kept before leaving.
        if exc.code == 130 and _interrupted(exc):
            _say_interrupted()
        raise


def _say_interrupted() -> None:
    err.print("[yellow]interrupted[/]: results and caches already written are kept; rerun the same command to resume", soft_wrap=True)
