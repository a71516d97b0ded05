"""docs/cli-reference.md, generated from the Typer app itself: every command's help, usage, arguments
and options, read through click's own introspection (the same records `--help` prints), so the page
cannot disagree with the CLI. tests/test_docs.py fails when the committed page is stale.

    python docs/gen_cli.py            # rewrite docs/cli-reference.md
    python docs/gen_cli.py --check    # exit 1 if it is stale
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

PAGE = Path(__file__).resolve().parent / "cli-reference.md"
HEADER = """# CLI reference

Generated from the Typer app by `python docs/gen_cli.py` (`make docs`); do not edit by hand.
Every command also prints this with `--help`. Options that name a component (`--rewriter`,
`--retriever`, `--reranker` and their `-args`) accept what `bright-eval rewriters`, `retrievers` and
`rerankers` list; their options are on the [component options](component-options.md) page.
"""


def _escape(text: str) -> str:
    """Markdown-safe prose: code spans (`...`) are kept as written; outside them, characters that
    Markdown or HTML would swallow (`<think>`, `|` in a table, `*`, `_`) are escaped."""
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(part.replace("|", "\\|"))
        else:
            out.append(re.sub(r"([\\*_\[\]|])", r"\\\1", part).replace("<", "&lt;").replace(">", "&gt;"))
    return "".join(out)


def _paragraphs(help_text: str) -> list[str]:
    """Docstring paragraphs with their hard line breaks joined (click's `\\b` markers dropped)."""
    paras = []
    for block in re.split(r"\n\s*\n", help_text.strip()):
        lines = [ln.strip() for ln in block.splitlines() if ln.strip() != "\b"]
        if lines:
            paras.append(" ".join(lines))
    return paras


def _param_rows(cmd: Any, ctx: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    arguments, options = [], []
    for param in cmd.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        record = param.get_help_record(ctx)
        if record is not None:
            (arguments if param.param_type_name == "argument" else options).append(record)
    return arguments, options


def _section(cmd: Any, ctx: Any, path: str, depth: int) -> list[str]:
    lines = [f"{'#' * min(depth, 6)} `{path}`", ""]
    for para in _paragraphs(cmd.help or ""):
        lines += [_escape(para), ""]
    pieces = cmd.collect_usage_pieces(ctx)
    lines += ["```text", f"Usage: {path} {' '.join(pieces)}".rstrip(), "```", ""]
    arguments, options = _param_rows(cmd, ctx)
    if arguments:
        lines += ["| argument | description |", "|---|---|"]
        lines += [f"| `{name}` | {_escape(' '.join(text.split()))} |" for name, text in arguments]
        lines.append("")
    if options:
        lines += ["| option | description |", "|---|---|"]
        for names, text in options:
            lines.append(f"| `{names.replace('|', chr(92) + '|')}` | {_escape(' '.join(text.split()))} |")
        lines.append("")
    return lines


def render() -> str:
    """The whole page. Deterministic: commands in the order `--help` lists them, no terminal width
    or environment in it (click's help records carry defaults and env-var names, never values)."""
    import typer.main

    from bright_eval.cli import app

    root = typer.main.get_command(app)
    root_ctx = root.make_context("bright-eval", [], resilient_parsing=True)
    lines = [HEADER]

    def walk(cmd: Any, ctx: Any, path: str, depth: int) -> None:
        lines.extend(_section(cmd, ctx, path, depth))
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                if sub is None or sub.hidden:
                    continue
                walk(sub, sub.make_context(name, [], parent=ctx, resilient_parsing=True), f"{path} {name}", depth + 1)

    walk(root, root_ctx, "bright-eval", 2)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not PAGE.exists() or PAGE.read_text() != text:
            print(f"{PAGE} is stale: run `python docs/gen_cli.py`", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text)
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
