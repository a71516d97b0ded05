"""`bright-eval rerankers`: list the reranker registry with each entry's options."""

from __future__ import annotations

from . import app
from .components import Markdown, list_registry


@app.command("rerankers")
def list_rerankers(markdown: bool = Markdown) -> None:
    """List the reranker names (and their options) that a reranker option accepts."""
    from bright_eval.rerankers import RERANKERS

    list_registry(RERANKERS, "rerankers (options: --reranker-args k=v,... or name(k=v,...))", markdown)
