"""Where results live: a local folder (a plain `Path`, shared or not) or an fsspec URL (`s3://`,
`gs://`, `file://`, `memory://`, ...) that every Ray worker can reach.

A URL becomes a `Location`, which offers the few `Path` operations results need (`/`, `parent`,
`name`, `exists`, `read_text`, `rglob`), so plan/results/execute code is the same for both.
Writes keep the local guarantee that a reader never sees half a file:

* object stores (s3, gs, azure, memory) publish an object only when its upload completes, so one
  PUT of the final key is the commit (a multipart upload is invisible until it is completed);
* file-like filesystems (file://, sftp, ...) get a temporary key in the same folder, then a rename.

The filesystem object is not pickled with a `Location`: each worker opens its own from the URL and
reads credentials from its own environment, so no secret travels in a task argument.
"""

from __future__ import annotations

import gzip
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Union

from .errors import BrightEvalError, storage_error
from .io import GZIP_LEVEL, atomic_write_text, check_writable_dir

OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "memory"}


class Location:
    """A file or folder behind an fsspec URL."""

    def __init__(self, url: str):
        self.url = url.rstrip("/") if not url.endswith("://") else url
        self._fs = None
        self._path = ""

    # -- naming ----------------------------------------------------------------------------------
    @property
    def protocol(self) -> str:
        return self.url.split("://", 1)[0]

    def __truediv__(self, part: str) -> Location:
        return Location(f"{self.url}/{str(part).strip('/')}")

    @property
    def name(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def parent(self) -> Location:
        head, _, _ = self.url.rpartition("/")
        return Location(head) if not head.endswith(":/") else self

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"Location({self.url!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Location) and other.url == self.url

    def __lt__(self, other: Location) -> bool:
        return self.url < other.url

    def __hash__(self) -> int:
        return hash(self.url)

    def __getstate__(self) -> dict:
        return {"url": self.url}  # the filesystem (and any credentials it holds) stays behind

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["url"])

    # -- filesystem ------------------------------------------------------------------------------
    @property
    def fs(self):
        if self._fs is None:
            try:
                import fsspec
            except ImportError:
                raise BrightEvalError(f"{self.url}: URLs need fsspec: pip install 'bright-eval[ray]'") from None
            try:
                self._fs, self._path = fsspec.core.url_to_fs(self.url)
            except ImportError as exc:  # e.g. s3:// without s3fs
                raise BrightEvalError(f"{self.url}: no filesystem for '{self.protocol}://' ({exc})") from None
        return self._fs

    @property
    def path(self) -> str:
        _ = self.fs  # resolving the filesystem also normalises the path
        return self._path

    @property
    def is_object_store(self) -> bool:
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        return bool(OBJECT_STORES & set(protocols))

    def exists(self) -> bool:
        return self.fs.exists(self.path)

    def is_dir(self) -> bool:
        return self.fs.isdir(self.path)

    def read_bytes(self) -> bytes:
        return self.fs.cat_file(self.path)

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def mkdir(self, parents: bool = True, exist_ok: bool = True) -> None:
        self.fs.makedirs(self.path, exist_ok=True)

    def unlink(self, missing_ok: bool = False) -> None:
        if missing_ok and not self.exists():
            return
        self.fs.rm_file(self.path)

    def rglob(self, pattern: str) -> Iterator[Location]:
        for p in sorted(self.fs.glob(f"{self.path}/**/{pattern}")):
            yield Location(self.fs.unstrip_protocol(p))


Place = Union[Path, Location]


def location(value: Place | str) -> Place:
    """A `Location` for a URL (anything with '://'), else a local `Path`."""
    if isinstance(value, (Path, Location)):
        return value
    text = str(value)
    return Location(text) if "://" in text else Path(text)


def parse_location(text: str) -> Place:
    """The one type of every `--results-dir`: a URL stays a URL (`run --results-dir s3://b/runs` must not
    become a local folder named 's3:'), anything else is a local folder."""
    text = str(text).strip()
    if not text:
        raise BrightEvalError("--results-dir: empty; expected a folder or a URL such as s3://bucket/runs")
    if "://" in text:
        scheme = text.split("://", 1)[0]
        if not scheme or not scheme.replace("+", "").replace("-", "").replace(".", "").isalnum():
            raise BrightEvalError(f"--results-dir {text}: '{scheme}' is not a URL scheme; expected e.g. s3://bucket/runs or a folder")
        return Location(text)
    return Path(text).expanduser()


# Schemes whose data lives in one process: Ray workers would each write to their own copy.
PROCESS_LOCAL = {"memory"}


def check_shared(place: Place, executor: str, option: str = "--results-dir") -> None:
    """Fail before any work when the executor's workers could not see the results written there."""
    if executor != "local" and isinstance(place, Location) and place.protocol in PROCESS_LOCAL:
        raise BrightEvalError(f"{option} {place}: '{place.protocol}://' lives in one process and cannot be shared with "
                              f"--executor {executor}'s workers; use a folder every worker sees or s3://, gs://, ...")


def check_results_dir(place: Place, option: str = "--results-dir") -> Place:
    """Fail with one line unless `place` is an existing folder of results (local or behind a URL)."""
    try:
        exists = place.exists()
        is_dir = exists and place.is_dir()
    except BrightEvalError:
        raise
    except Exception as exc:  # noqa: BLE001 - every backend raises its own kind; the user needs one line
        raise BrightEvalError(f"{option} {place}: not readable ({type(exc).__name__}: {str(exc)[:200]})") from None
    if not exists:
        raise BrightEvalError(f"results folder {place} does not exist ({option})")
    if not is_dir:
        raise BrightEvalError(f"{option} {place}: is a file, not a folder; expected the folder `run`/`matrix` wrote")
    return place


def check_writable(place: Place, option: str) -> Place:
    """Fail before any work when results cannot be written there (no backend, no bucket, no permission)."""
    if isinstance(place, Path):
        return check_writable_dir(place, option)
    probe = place / f".bright-eval-probe-{uuid.uuid4().hex}"
    try:
        place.mkdir()
        write_bytes(probe, b"")
        probe.unlink(missing_ok=True)
    except BrightEvalError:
        raise
    except Exception as exc:  # noqa: BLE001 - every backend raises its own kind; the user needs one line
        raise BrightEvalError(f"{option} {place}: not writable ({type(exc).__name__}: {str(exc)[:200]})") from None
    return place


def write_bytes(place: Place, data: bytes) -> None:
    """Atomic write: readers see the old object, or the new one whole, never half of it."""
    if isinstance(place, Path):
        from .io import atomic_write_bytes

        atomic_write_bytes(place, data)
        return
    fs = place.fs
    if place.is_object_store:
        try:
            fs.pipe_file(place.path, data)  # one PUT: the object appears only once complete
        except OSError as exc:
            _reraise(exc, place)
        return
    tmp = f"{place.parent.path}/.{place.name}.{uuid.uuid4().hex}.tmp"
    try:
        fs.makedirs(place.parent.path, exist_ok=True)
        fs.pipe_file(tmp, data)
        fs.mv(tmp, place.path)
    except BaseException as exc:
        try:
            fs.rm_file(tmp)
        except Exception:  # noqa: BLE001 - the original error is the one to report
            pass
        _reraise(exc, place)


def _reraise(exc: BaseException, place: Place):
    clear = storage_error(exc, place)
    if clear is exc:
        raise exc
    raise clear from None


def write_text(place: Place, text: str) -> None:
    """As io.atomic_write_text: '.gz' names are gzipped with mtime 0, so equal text gives equal bytes."""
    if isinstance(place, Path):
        atomic_write_text(place, text)
        return
    data = text.encode("utf-8")
    if place.name.endswith(".gz"):
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=GZIP_LEVEL) as gz:
            gz.write(data)
        data = buf.getvalue()
    write_bytes(place, data)


def write_json(place: Place, obj: Any, indent: int | None = 1) -> None:
    write_text(place, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def append_line(place: Place, line: str) -> None:
    """Append one line. Object stores cannot append: the file is read and rewritten whole, which is
    safe because only the driver writes the run log."""
    if isinstance(place, Path):
        try:
            place.parent.mkdir(parents=True, exist_ok=True)
            with open(place, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError as exc:
            _reraise(exc, place)
        return
    old = place.read_text() if place.exists() else ""
    write_text(place, old + line + "\n")
