"""Persistent rewrite cache: one sqlite row per (model, revision, prompt, decoding, query text).

sqlite gives atomic commits and safe concurrent readers; each finished generation is committed as
soon as it exists, so an interrupted run loses nothing and a rerun continues where it stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bright_eval.sqlite_table import SqliteTable


@dataclass
class CachedRewrite:
    completion: str
    rewrite: str | None  # None: the completion could not be parsed (recorded, not retried)
    prompt_tokens: int = 0
    completion_tokens: int = 0


class RewriteCache:
    def __init__(self, path: Path):
        self.path = path
        self._table = SqliteTable(path, "rewrites", "model TEXT, query TEXT, completion TEXT, rewrite TEXT, prompt_tokens INTEGER,"
                                                    " completion_tokens INTEGER, created REAL")

    def get_many(self, keys: list[str]) -> dict[str, CachedRewrite]:
        rows = self._table.select(keys, "completion, rewrite, prompt_tokens, completion_tokens")
        return {r[0]: CachedRewrite(r[1], r[2], r[3] or 0, r[4] or 0) for r in rows}

    def put(self, key: str, model: str, query: str, item: CachedRewrite) -> None:
        self._table.insert([(key, model, query, item.completion, item.rewrite, item.prompt_tokens, item.completion_tokens, time.time())])

    def __len__(self) -> int:
        return len(self._table)
