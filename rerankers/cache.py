"""Persistent cache of LLM reranking calls: one sqlite row per (model identity, endpoint, rendered
prompt, decoding) for generated answers, or per (model, prompt, query, document) for pointwise scores.

The raw completion is stored, not the parsed ranking, so a parser change applies to cached answers
without paying for them again. Each result is committed as soon as it exists, so an interrupted run
loses only the calls in flight (the same design as the rewrite cache).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bright_eval.sqlite_table import SqliteTable


@dataclass
class Cached:
    completion: str | None  # generated answer (listwise rerankers)
    score: float | None  # pointwise score (yes/no log-probability)
    prompt_tokens: int = 0
    completion_tokens: int = 0


class RerankCache:
    def __init__(self, path: Path):
        self.path = path
        self._table = SqliteTable(path, "calls", "model TEXT, completion TEXT, score REAL, prompt_tokens INTEGER,"
                                                 " completion_tokens INTEGER, created REAL")

    def get_many(self, keys: list[str]) -> dict[str, Cached]:
        rows = self._table.select(keys, "completion, score, prompt_tokens, completion_tokens")
        return {r[0]: Cached(r[1], r[2], r[3] or 0, r[4] or 0) for r in rows}

    def put_many(self, items: list[tuple[str, str, Cached]]) -> None:
        """(key, model, value) rows in one transaction."""
        self._table.insert((k, m, c.completion, c.score, c.prompt_tokens, c.completion_tokens, time.time()) for k, m, c in items)

    def __len__(self) -> int:
        return len(self._table)
