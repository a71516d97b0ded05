"""Typed fields of BRIGHT's records (ids, texts, id lists), checked as they are read, with the
place (`file:line`, a parquet row, a hub split index) in every error."""

from __future__ import annotations

from collections.abc import Iterable

from .errors import BrightEvalError

NA = "N/A"
# A TREC run file is whitespace-separated, one line per hit: an id with a tab or a line break in it
# would split or end the line and shift every column after it.
_BREAKS_RUN_FILE = ("\t", "\n", "\r")


def field_id(value, where: str, field_name: str = "id") -> str:
    # bool is an int; null and lists would become the ids "None" / "[1]" and silently match nothing.
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BrightEvalError(f"{where}: field '{field_name}' must be a string, got {value!r:.80}")
    value = str(value)
    if any(c in value for c in _BREAKS_RUN_FILE):
        raise BrightEvalError(f"{where}: field '{field_name}' {value!r:.80} contains a tab or a line break, which would break "
                              f"the TREC run file; expected an id without them")
    return value


def field_text(value, where: str, field_name: str, optional: bool = False) -> str:
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise BrightEvalError(f"{where}: field '{field_name}' must be a string, got {value!r:.80}")
    return value


def field_ids(value, where: str, field_name: str) -> list[str]:
    """A list of ids with BRIGHT's "N/A" placeholder removed (None: empty)."""
    if value is None:
        return []
    if not isinstance(value, list) or not set(map(type, value)) <= {str}:  # map: thousands of ids per query on some tasks
        raise BrightEvalError(f"{where}: field '{field_name}' must be a list of strings, got {value!r:.80}")
    return [v for v in value if v != NA]


def run_safe(ids: list[str]) -> bool:
    """No id has a tab or a line break: one join and three searches, for ids read without `field_id`."""
    joined = "\x00".join(ids)
    return not any(c in joined for c in _BREAKS_RUN_FILE)


def check_run_safe(ids: list[str], where: str) -> None:
    """`field_id`'s tab/line-break check over a column of ids (a dataset split), naming the row."""
    if not run_safe(ids):
        for n, i in enumerate(ids):
            field_id(i, f"{where}[{n}]")


def check_unique(ids: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    dups: list[str] = []
    for i in ids:
        if i in seen:
            dups.append(i)
        seen.add(i)
    if dups:
        raise BrightEvalError(f"{what}: {len(dups)} duplicate id(s), e.g. {dups[:3]}; ids must be unique")

