"""File helpers: JSONL with line-numbered errors, atomic writes, content fingerprints."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import BrightEvalError


def open_text(path: Path | str, mode: str = "rt"):
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, mode, encoding="utf-8")
    return open(path, mode, encoding="utf-8")


def read_jsonl(path: Path | str, required: Iterable[str] = ()) -> Iterator[dict[str, Any]]:
    """Yield objects from a JSONL(.gz) file; a bad line raises an error naming file:line and field."""
    path = Path(path)
    if not path.exists():
        raise BrightEvalError(f"{path}: file not found")
    required = tuple(required)
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BrightEvalError(f"{path}:{lineno}: malformed JSON ({exc.msg}); expected one JSON object per line") from None
            if not isinstance(obj, dict):
                raise BrightEvalError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            for field in required:
                if field not in obj:
                    raise BrightEvalError(f"{path}:{lineno}: missing field '{field}' (expected fields: {', '.join(required)})")
            yield obj


_UMASK = os.umask(0)
os.umask(_UMASK)


def check_writable_dir(path: Path | str, option: str) -> Path:
    """Fail before any work when `path` cannot be a writable folder (a file in the way, no permission)."""
    path = Path(path)
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise BrightEvalError(f"{option} {path}: {probe} is a file, not a folder; choose another path")
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        raise BrightEvalError(f"{option} {path}: {probe} is not writable; choose another path or fix its permissions")
    return path


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write via a temporary file in the same folder and rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are meant to be shared and read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path | str, text: str) -> None:
    path = Path(path)
    data = text.encode("utf-8")
    if path.suffix == ".gz":
        buf = io.BytesIO()
        # mtime=0 keeps the bytes reproducible for identical content.
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
            gz.write(data)
        data = buf.getvalue()
    atomic_write_bytes(path, data)


def atomic_write_json(path: Path | str, obj: Any, indent: int | None = 1) -> None:
    atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def write_jsonl(path: Path | str, rows: Iterable[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_json(path: Path | str) -> Any:
    path = Path(path)
    if not path.exists():
        raise BrightEvalError(f"{path}: file not found")
    try:
        with open_text(path) as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise BrightEvalError(f"{path}: malformed JSON at line {exc.lineno} ({exc.msg})") from None


class Fingerprint:
    """Incremental content hash; order-sensitive, with separators so ('ab','c') != ('a','bc')."""

    def __init__(self) -> None:
        self._h = hashlib.blake2b(digest_size=16)

    def update(self, *parts: str) -> "Fingerprint":
        for part in parts:
            b = part.encode("utf-8")
            self._h.update(len(b).to_bytes(8, "little"))
            self._h.update(b)
        return self

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def fingerprint_of(obj: Any) -> str:
    """Stable hash of JSON-serialisable data (configs, specs)."""
    return Fingerprint().update(json.dumps(obj, sort_keys=True, ensure_ascii=False)).hexdigest()
