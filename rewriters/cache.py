"""Persistent rewrite cache: one sqlite row per (model, revision, prompt, decoding, query text).

sqlite gives atomic commits and safe concurrent readers; each finished generation is committed as
soon as it exists, so an interrupted run loses nothing and a rerun continues where it stopped.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class CachedRewrite:
    completion: str
    rewrite: str | None  # None: the completion could not be parsed (recorded, not retried)
    prompt_tokens: int = 0
    completion_tokens: int = 0


class RewriteCache:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS rewrites (key TEXT PRIMARY KEY, model TEXT, query TEXT, completion TEXT,"
            " rewrite TEXT, prompt_tokens INTEGER, completion_tokens INTEGER, created REAL)"
        )
        self._db.commit()

    def get_many(self, keys: list[str]) -> dict[str, CachedRewrite]:
        out: dict[str, CachedRewrite] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT key, completion, rewrite, prompt_tokens, completion_tokens FROM rewrites WHERE key IN ({marks})"
                for row in self._db.execute(query, chunk):
                    out[row[0]] = CachedRewrite(row[1], row[2], row[3] or 0, row[4] or 0)
        return out

    def put(self, key: str, model: str, query: str, item: CachedRewrite) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO rewrites VALUES (?,?,?,?,?,?,?,?)",
                             (key, model, query, item.completion, item.rewrite, item.prompt_tokens, item.completion_tokens, time.time()))
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM rewrites").fetchone()[0]
