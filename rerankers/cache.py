"""Persistent cache of LLM reranking calls: one sqlite row per (model identity, endpoint, rendered
prompt, decoding) for generated answers, or per (model, prompt, query, document) for pointwise scores.

The raw completion is stored, not the parsed ranking, so a parser change applies to cached answers
without paying for them again. Each result is committed as soon as it exists, so an interrupted run
loses only the calls in flight (the same design as the rewrite cache).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Cached:
    completion: str | None  # generated answer (listwise rerankers)
    score: float | None  # pointwise score (yes/no log-probability)
    prompt_tokens: int = 0
    completion_tokens: int = 0


class RerankCache:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, model TEXT, completion TEXT, score REAL,"
                         " prompt_tokens INTEGER, completion_tokens INTEGER, created REAL)")
        self._db.commit()

    def get_many(self, keys: list[str]) -> dict[str, Cached]:
        out: dict[str, Cached] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT key, completion, score, prompt_tokens, completion_tokens FROM calls WHERE key IN ({marks})"
                for row in self._db.execute(query, chunk):
                    out[row[0]] = Cached(row[1], row[2], row[3] or 0, row[4] or 0)
        return out

    def put_many(self, items: list[tuple[str, str, Cached]]) -> None:
        """(key, model, value) rows in one transaction."""
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO calls VALUES (?,?,?,?,?,?,?)",
                                 [(k, m, c.completion, c.score, c.prompt_tokens, c.completion_tokens, time.time()) for k, m, c in items])
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
