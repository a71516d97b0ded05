"""Progress bars on long work (rich), silent when output is not a terminal or in --format json."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_enabled = True


def set_enabled(flag: bool) -> None:
    global _enabled
    _enabled = flag


def progress(items: Iterable[T], total: int | None = None, description: str = "") -> Iterator[T]:
    if not _enabled or not sys.stderr.isatty() or os.environ.get("BRIGHT_EVAL_NO_PROGRESS"):
        yield from items
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    # markup=False: descriptions hold component names such as "bm25 [rerank_depth=10]", not styles
    cols = (TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*cols, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)
