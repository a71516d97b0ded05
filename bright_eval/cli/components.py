"""`bright-eval retrievers` and `bright-eval tasks`: what names and options the other commands accept."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from . import app
from .render import out

if TYPE_CHECKING:
    from rich.table import Table


def registry_table(registry, title: str) -> Table:
    from rich.markup import escape
    from rich.table import Table

    from bright_eval.registry import REQUIRED, describe

    table = Table(title=title, title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("options: name=default (type); * changes speed, not numbers")
    table.add_column("what it is")
    for e in registry.entries():
        opts = ", ".join(f"{o.name}{'*' if o.operational else ''}" + ("" if o.default is REQUIRED else f"={_shown(o.default)}")
                         + f" ({describe(o.hint)})" for o in e.options().values())
        what = e.description + (f" [plugin from {e.package}]" if e.package else "")
        table.add_row(escape(e.name + (":<arg>" if e.prefix else "")), escape(opts), escape(what))
    return table


def _shown(value) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value)


Markdown = typer.Option(False, "--markdown", help="Print the option tables as Markdown (docs/component-options.md's tables are this output).")


def list_registry(registry, title: str, markdown: bool) -> None:
    if markdown:
        from bright_eval.option_docs import markdown_tables

        typer.echo(markdown_tables(registry), nl=False)
    else:
        out.print(registry_table(registry, title))


@app.command("retrievers")
def list_retrievers(markdown: bool = Markdown) -> None:
    """List the retriever names and options that --retriever / --retrievers accept."""
    from bright_eval.retrievers import RETRIEVERS

    list_registry(RETRIEVERS, "retrievers (options: --retriever-args k=v,... or name(k=v,...))", markdown)


@app.command("tasks")
def list_tasks() -> None:
    """List BRIGHT's twelve tasks, in the order of its tables."""
    from bright_eval.tasks import TASKS

    for t in TASKS:
        out.print(t)
