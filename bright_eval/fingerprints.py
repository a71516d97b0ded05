"""Content hashes of data files, remembered by (path, size, mtime).

Reuse decisions need the corpus's content, not its path: a documents file edited in place must
not be served old scores. Hashing a 1 GB file on every run would cost seconds, so the hash is kept
in a small sqlite table and recomputed only when the file's size or modification time changes.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

from .cache import default_cache_root

_lock = threading.Lock()
_CHUNK = 1 << 20


def _hash_file(path: Path) -> str:
    h = new_hash()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _db(root: Path) -> sqlite3.Connection | None:
    try:
        root.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(root / "file-hashes.sqlite"), timeout=30)
        db.execute("CREATE TABLE IF NOT EXISTS hashes (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, hash TEXT)")
        return db
    except (OSError, sqlite3.Error):
        return None  # a read-only cache only costs the re-hash


def file_fingerprint(path: Path | str, cache_root: Path | None = None, hasher=None) -> str:
    """The file's content hash, remembered by (path, size, mtime). `hasher(path)` computes it when it
    is not remembered (default: read and hash the bytes); a caller may pass one that does more in
    the same read, as the documents id pass does."""
    from .io import check_readable_file

    path = check_readable_file(Path(path), "a data file").resolve()
    st = path.stat()
    with _lock:
        db = _db(Path(cache_root) if cache_root else default_cache_root())
        if db is not None:
            row = db.execute("SELECT size, mtime_ns, hash FROM hashes WHERE path = ?", (str(path),)).fetchone()
            if row and row[0] == st.st_size and row[1] == st.st_mtime_ns:
                db.close()
                return row[2]
        digest = (hasher or _hash_file)(path)
        if db is not None:
            try:
                db.execute("INSERT OR REPLACE INTO hashes VALUES (?,?,?,?)", (str(path), st.st_size, st.st_mtime_ns, digest))
                db.commit()
            except sqlite3.Error:
                pass
            db.close()
        return digest


def new_hash():
    """The hash `file_fingerprint` uses, for callers that hash a file as they read it."""
    return hashlib.blake2b(digest_size=16)
