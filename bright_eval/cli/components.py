"""`bright-eval retrievers` and `bright-eval tasks`: what names and options the other commands accept."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

from . import app
from .render import out

if TYPE_CHECKING:
    from rich.table import Table


def registry_table(registry, title: str) -> Table:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("options (default)")
    table.add_column("what it is")
    for e in registry.entries():
        opts = ", ".join(f"{k}" + ("" if v is inspect.Parameter.empty else f"={v}") for k, v in e.options().items())
        table.add_row(escape(e.name + (":<arg>" if e.prefix else "")), escape(opts), escape(e.description))
    return table


@app.command("retrievers")
def list_retrievers() -> None:
    """List the retriever names and options that --retriever / --retrievers accept."""
    from bright_eval.retrievers import RETRIEVERS

    out.print(registry_table(RETRIEVERS, "retrievers (options: --retriever-args k=v,... or name(k=v,...))"))


@app.command("tasks")
def list_tasks() -> None:
    """List BRIGHT's twelve tasks, in the order of its tables."""
    from bright_eval.tasks import TASKS

    for t in TASKS:
        out.print(t)
