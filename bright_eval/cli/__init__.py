"""The `bright-eval` command line. Each command group lives in its own module and registers itself
on `app`; `main` turns user errors into one red line instead of a traceback.

Start-up matters here: `bright-eval --help` and `bright-eval CMD --help` are run far more often than
any command, so nothing heavy is imported at module level (tests/test_cli_startup.py checks it).
Command modules import what they need inside the command functions; rich is imported only when
something is printed through `err`/`out` or logged."""

from __future__ import annotations

import logging
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from bright_eval.errors import BrightEvalError

from .render import LazyConsole, out


class HelpGroup(TyperGroup):
    """Plain (click) help screens, with the whole one-line summary of each command.

    Typer's rich help imports rich.markdown, markdown-it, rich.traceback and pygments just to draw
    boxes around the help: most of the start-up time of `--help`. Plain help says the same things."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # click cuts each summary to fit one terminal line ("List the retriever names and..."); the
        # summaries here are written to be read whole, so show the first paragraph, wrapped.
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            text = cmd.short_help or cmd.help or ""
            rows.append((name, " ".join(text.split("\n\n")[0].split())))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        # `bright-eval` alone prints the help on stdout (so `| less` works) and exits 2, as it did with
        # rich help; click's plain path would print it on stderr.
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            typer.echo(ctx.get_help(), color=ctx.color)
            ctx.exit(2)
        return super().parse_args(ctx, args)

    def get_help_option(self, ctx: Any) -> Any:
        # Typer coerces a flag whose value is None through a pydantic TypeAdapter, importing pydantic
        # (~60 ms); a group's --help is None whenever a subcommand is named (`bright-eval run --help`).
        # click's own default for a flag is False, which typer passes through untouched.
        opt = super().get_help_option(ctx)
        if opt is not None and opt.default is None:
            opt.default = False
        return opt


def sub_app(**kwargs: Any) -> typer.Typer:
    """A command group (`data`, `train`) with the same help style as `app`."""
    return typer.Typer(cls=HelpGroup, rich_markup_mode=None, **kwargs)


app = typer.Typer(
    name="bright-eval",
    help="Evaluate query rewriters x retrievers on BRIGHT, and train reasoning query rewriters.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=HelpGroup,
    rich_markup_mode=None,
)
err = LazyConsole(stderr=True)

# Command modules register on `app` when imported (order = order in --help).
from . import components as _components  # noqa: E402,F401
from . import data as _data  # noqa: E402,F401
from . import explore as _explore  # noqa: E402,F401
from . import export as _export  # noqa: E402,F401
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
    # A Console reads COLUMNS when it is built; built lazily, it would keep the first invocation's
    # width for every later one in the same process (CliRunner tests set COLUMNS per invocation).
    out.reset()
    err.reset()
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


class _RichLog(logging.Handler):
    """rich's RichHandler, made at the first record: importing rich.logging pulls in rich.traceback
    and pygments, which `--help` and commands that log nothing never need."""

    def __init__(self) -> None:
        super().__init__()
        self._rich: logging.Handler | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self._rich is None:
            from rich.logging import RichHandler

            self._rich = RichHandler(show_path=False, show_time=False)
            self._rich.setFormatter(self.formatter)
        self._rich.console = err.console  # the current one: `_options` renews it per invocation
        self._rich.emit(record)  # filtering and locking were done by this handler's handle()


def _interrupted(exc: BaseException) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _take_ctrl_c() -> None:
    """Make Ctrl-C / SIGINT interrupt, however the process was started. A non-interactive shell
    starts `cmd &` with SIGINT ignored (bash manual, "Signals": without job control, asynchronous
    commands ignore SIGINT), Python then never raises KeyboardInterrupt, and a sweep script's
    `kill -INT` was silently ignored: every request sent, exit 0. The run loses nothing by stopping
    (every result and reply is written as it comes), so SIGINT always means stop here."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main() -> None:
    _take_ctrl_c()
    handler = _RichLog()
    handler.addFilter(_Once())
    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[handler])
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        app()
    except BrightEvalError as exc:
        from .render import esc

        err.print(f"[bold red]error:[/] {esc(exc)}", highlight=False, soft_wrap=True)
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
