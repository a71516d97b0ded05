"""The option tables of docs/component-options.md, generated from the registries' typed declarations (never written by hand):
entries that declare the same options share one table, so forty dense models are one table, not forty."""

from __future__ import annotations

import json

from .registry import REQUIRED, Registry, describe


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _label(entry) -> str:
    return f"`{entry.name}{':<arg>' if entry.prefix else ''}`"


def markdown_tables(registry: Registry) -> str:
    groups: dict[tuple, list] = {}
    for e in (e for e in registry.entries() if not e.package):  # bright-eval's own, never an installed plugin's
        key = tuple((o.name, describe(o.hint), repr(o.default), o.operational) for o in e.options().values())
        groups.setdefault(key, []).append(e)
    out = []
    for entries in groups.values():
        options = entries[0].options().values()
        out.append(f"**{registry.kind}s {', '.join(_label(e) for e in entries)}**" + ("" if options else ": no options") + "\n")
        if options:
            out.append("| option | type | default | changes |\n|---|---|---|---|")
        for o in options:
            default = "required" if o.default is REQUIRED else (o.default if isinstance(o.default, str) else json.dumps(o.default))
            out.append(f"| `{o.name}` | {_cell(describe(o.hint))} | `{_cell(default)}` | "
                       f"{'speed only' if o.operational else 'results (part of the name)'} |")
        out.append("")
    return "\n".join(out) + "\n"


BEGIN, END = "<!-- options:begin -->\n", "<!-- options:end -->"


def all_tables() -> str:
    from bright_eval.rerankers import RERANKERS
    from bright_eval.retrievers import RETRIEVERS
    from bright_eval.rewriters import REWRITERS

    return "".join(markdown_tables(r) for r in (RETRIEVERS, REWRITERS, RERANKERS))


def rewrite_block(text: str) -> str:
    """`text` with the block between the option markers replaced by freshly generated tables."""
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return head + BEGIN + all_tables() + END + tail


if __name__ == "__main__":
    import sys
    from pathlib import Path

    path = Path(sys.argv[1])
    path.write_text(rewrite_block(path.read_text(encoding="utf-8")), encoding="utf-8")
