"""One sqlite table keyed by a string, shared by the caches of LLM calls (rewrites, reranking).

sqlite gives atomic commits and safe concurrent readers; each row is committed as soon as it
exists, so an interrupted run loses only what was in flight and a rerun continues where it stopped.
Backends call from worker threads, so every access holds one lock.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path


class SqliteTable:
    def __init__(self, path: Path, table: str, columns: str):
        """`columns`: the SQL column list after `key TEXT PRIMARY KEY`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.table = path, table
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, {columns})")
        self._db.commit()

    def select(self, keys: list[str], columns: str) -> Iterator[tuple]:
        """(key, *columns) rows for the keys that are present (queried in chunks under SQLite's variable limit)."""
        with self._lock:
            rows = []
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                rows.extend(self._db.execute(f"SELECT key, {columns} FROM {self.table} WHERE key IN ({marks})", chunk))
        yield from rows

    def insert(self, rows: Iterable[tuple]) -> None:
        """Whole rows (key first), replacing any with the same key, in one transaction."""
        rows = list(rows)
        if not rows:
            return
        marks = ",".join("?" * len(rows[0]))
        with self._lock:
            self._db.executemany(f"INSERT OR REPLACE INTO {self.table} VALUES ({marks})", rows)
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute(f"SELECT COUNT(*) FROM {self.table}").fetchone()[0]
