"""Printing results: a rich table for people, one JSON object for scripts."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import typer

from bright_eval.errors import BrightEvalError


class LazyConsole:
    """A rich Console made at its first use. Every command module holds `out`/`err`, but importing
    rich costs a noticeable part of `bright-eval --help`, which prints nothing through them."""

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._console = None

    @property
    def console(self):
        """The real Console, for APIs that take one (Live, RichHandler)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._kwargs)
        return self._console

    def reset(self) -> None:
        """Build the Console again at the next use, from the environment of that moment."""
        self._console = None

    def __getattr__(self, name: str) -> Any:  # only reached for what this class does not define
        if name.startswith("__") or name in ("_console", "_kwargs"):  # copy/pickle probe a bare instance
            raise AttributeError(name)
        return getattr(self.console, name)


out = LazyConsole()
LABELS = {"ndcg@10": "nDCG@10", "recall@10": "R@10", "recall@100": "R@100", "recall@1000": "R@1k", "map": "MAP",
          "mrr@10": "MRR@10", "p@5": "P@5", "p@10": "P@10"}


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """While work runs under `--format json`, whatever anything else writes to stdout (a library's
    print, a Ray worker's or a child process's output through file descriptor 1) goes to stderr, so
    stdout holds only the JSON printed afterwards."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 1)
        os.close(saved)


def esc(value: Any) -> str:
    """Text from users, files or the system made safe for rich: '[api]' prints as '[api]', not as a style."""
    from rich.markup import escape

    return escape(str(value))


def check_format(fmt: str) -> str:
    if fmt not in ("table", "json"):
        raise BrightEvalError(f"--format must be 'table' or 'json', got '{fmt}'")
    return fmt


def emit(per_task: dict[str, dict[str, float]], fmt: str, title: str, notes: dict[str, str] | None = None) -> None:
    """`per_task` = {task: {metric: value}}; the table adds an average row (tasks weighted equally)."""
    if fmt == "json":
        typer.echo(json.dumps(per_task))
        return
    from statistics import fmean

    from rich.table import Table

    from bright_eval.scoring import METRICS

    table = Table(title=esc(title), title_justify="left")
    table.add_column("task", no_wrap=True)
    for m in METRICS:
        table.add_column(LABELS[m], justify="right", style="bold" if m == "ndcg@10" else None, no_wrap=True)
    if notes:
        table.add_column("")
    for task, vals in per_task.items():
        table.add_row(task, *(f"{100 * vals[m]:.2f}" for m in METRICS), *([esc(notes.get(task, ""))] if notes else []))
    if len(per_task) > 1:
        avg = {m: fmean(v[m] for v in per_task.values()) for m in METRICS}
        table.add_row("[b]average[/]", *(f"[b]{100 * avg[m]:.2f}[/]" for m in METRICS), *([""] if notes else []))
    out.print(table)
    out.print("[dim]metrics x100; nDCG@10 is BRIGHT's headline[/]")
