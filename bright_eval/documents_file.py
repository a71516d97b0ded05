"""A task's documents read from a JSONL(.gz) file on demand, never held whole unless asked.

BRIGHT's twelve corpora are 1.33M passages (~2.7 GB of JSON). A run whose BM25 analysis is
cached needs only the document ids, and a cold BM25 analysis reads each text once, front to back.
So `FileCorpus` reads:

* `ids` in one pass that skips the text where it can (the id leads each line, as BRIGHT's export
  and `bright-eval data export` write it), remembered by the file's content hash so that the next
  run reads one small JSON list instead of the corpus;
* `texts` as a stream (`iter`), or as a list held in memory only when a caller indexes into it
  (rerankers and dense encoders slice it).

Every text line is validated when it is read, with the file and line in the error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path

from .corpus import Corpus
from .errors import BrightEvalError
from .fields import check_unique, field_id, field_text, run_safe
from .io import atomic_write_text, is_gzip, iter_lines, parse_json_line, read_jsonl_lines

# `{"id": "<string without escapes>",` at the very start of a line: the id can be sliced out without
# decoding the (long) content. Anything else (a raw tab in the id too) goes through json.loads and
# `field_id`, which name the line.
_LEADING_ID = re.compile(r'\{\s*"id"\s*:\s*"([^"\\\t\r\n]*)"\s*,')


def _ids_cache_path(digest: str) -> Path:
    from .cache import default_cache_root

    return default_cache_root() / "doc-ids" / f"{digest}.json"


def hash_and_ids(path: Path) -> str:
    """The file's content hash (as `file_fingerprint` computes it) and, in the same read, its ids,
    stored under that hash: a cold run then reads a large corpus file twice (here, then its texts
    into the analysis), not three times. Gzipped files are hashed and read apart."""
    from .fingerprints import _hash_file, new_hash

    if is_gzip(path):
        return _hash_file(path)
    h = new_hash()
    ids = read_ids(path, h.update)
    digest = h.hexdigest()
    _store_ids(digest, ids)
    return digest


def read_ids(path: Path, on_bytes=None) -> list[str]:
    """Document ids in file order, validated (present, strings or integers, unique, at least one);
    `on_bytes` sees every raw line (a hash)."""
    ids: list[str] = []
    match = _LEADING_ID.match
    for lineno, line in iter_lines(path, "JSON lines (one object per line)", on_bytes):
        m = match(line)
        if m is not None:
            ids.append(m.group(1))
            continue
        if line.strip():
            ids.append(field_id(parse_json_line(path, lineno, line, ("id",))["id"], f"{path}:{lineno}"))
    if not ids:
        raise BrightEvalError(f"{path}: no documents (the file is empty); expected one {{\"id\", \"content\"}} object per line")
    check_unique(ids, str(path))
    return ids


def cached_ids(path: Path, digest: str) -> list[str]:
    """`read_ids`, remembered under the file's content hash (a damaged entry is read again)."""
    cache = _ids_cache_path(digest)
    try:
        ids = json.loads(cache.read_text(encoding="utf-8"))
        # run_safe: a list stored before ids were checked for tabs is read again, to name the line
        if isinstance(ids, list) and ids and set(map(type, ids)) == {str} and run_safe(ids):
            return ids
    except (OSError, ValueError):
        pass
    ids = read_ids(path)
    _store_ids(digest, ids)
    return ids


def _store_ids(digest: str, ids: list[str]) -> None:
    try:
        atomic_write_text(_ids_cache_path(digest), json.dumps(ids, ensure_ascii=False))
    except OSError:
        pass  # a read-only cache costs the next run one id pass, nothing else


class FileTexts(Sequence[str]):
    """The texts of a `FileCorpus`: iterating streams them from the file; indexing loads them all once."""

    def __init__(self, corpus: FileCorpus):
        self._corpus = corpus
        self._all: list[str] | None = None

    def __len__(self) -> int:
        return len(self._corpus)

    def __iter__(self) -> Iterator[str]:
        if self._all is not None:
            return iter(self._all)
        return self._stream()

    def _stream(self) -> Iterator[str]:
        path, ids = self._corpus.path, self._corpus.ids
        n = 0
        for lineno, rec in read_jsonl_lines(path, required=("id", "content")):
            where = f"{path}:{lineno}"
            if n >= len(ids) or field_id(rec["id"], where) != ids[n]:
                raise BrightEvalError(f"{where}: document order changed while reading (expected id {ids[n] if n < len(ids) else 'none'!r}); "
                                      f"was {path} rewritten during the run?")
            yield field_text(rec["content"], where, "content")
            n += 1
        if n != len(ids):
            raise BrightEvalError(f"{path}: {n} documents read, {len(ids)} expected; was the file rewritten during the run?")

    def __eq__(self, other) -> bool:  # compares as the list of texts it stands for
        return isinstance(other, Sequence) and not isinstance(other, str) and len(self) == len(other) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # mutable-sequence semantics, like list

    def __getitem__(self, i):
        if self._all is None:
            self._all = list(self._stream())
        return self._all[i]


class FileCorpus(Corpus):
    """A `Corpus` over a JSONL(.gz) documents file whose content hash is `digest`."""

    def __init__(self, path: Path, digest: str):  # no super().__init__: ids and texts come on demand
        self.path, self.origin, self._digest = path, str(path), digest
        self.fingerprint = "file:" + digest

    @cached_property
    def ids(self) -> list[str]:
        return cached_ids(self.path, self._digest)

    @cached_property
    def texts(self) -> FileTexts:
        return FileTexts(self)
