"""`bright-eval rerankers`: list the reranker registry with each entry's options."""

from __future__ import annotations

import inspect

from . import app
from .render import out


@app.command("rerankers")
def list_rerankers() -> None:
    """List the reranker names (and their options) that a reranker option accepts."""
    from rich.markup import escape
    from rich.table import Table

    from bright_eval.rerankers import RERANKERS

    table = Table(title="rerankers", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("what it is")
    table.add_column("options (default; * speed only)")
    for e in RERANKERS.entries():
        opts = [f"{k}{'*' if k in e.operational else ''}" + ("" if v is inspect.Parameter.empty else f"={v!r}")
                for k, v in e.options().items()]
        table.add_row(escape(e.name + (":<arg>" if e.prefix else "")), escape(e.description), escape(", ".join(opts)))
    out.print(table)
