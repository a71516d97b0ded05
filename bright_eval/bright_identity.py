"""Whether the data a run read is BRIGHT: what `bright-eval reproduce` must know before a verdict may
say OK. Numbers measured on other data are reported as UNVERIFIED, with the reason.

Two things decide it, and neither can be had by accident:
- provenance: `xlangai/BRIGHT` read from the hub at a resolved revision, or a folder written by
  `bright-eval data export` whose SOURCE.json names that repository, its revision and the hash of every
  file it wrote, each checked against the file there now;
- content, per task: BRIGHT's published query and document counts (`reference/bright_counts.toml`)
  and every gold id present in the corpus.
The answer-retrieval proxy (`bright_eval.proxy`) is named as such however it is read.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import BrightEvalError

BRIGHT_REPO = "xlangai/BRIGHT"
SOURCE_FILE = "SOURCE.json"
PROXY_REASON = "this is the answer-retrieval proxy (`data proxy`), not BRIGHT's corpus"
_SHA = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Counts:
    queries: int
    documents: tuple[int, ...]
    long_documents: tuple[int, ...] = ()


@functools.cache
def published_counts() -> dict[str, Counts]:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        from .errors import require

        tomllib = require("tomli", "core", "reading BRIGHT's published counts on Python 3.10")

    text = (resources.files("bright_eval") / "reference" / "bright_counts.toml").read_text(encoding="utf-8")
    return {task: Counts(rec["queries"], tuple(rec["documents"]), tuple(rec.get("long_documents", ())))
            for task, rec in tomllib.loads(text).items()}


# -- what `data export` records ------------------------------------------------------------------------
def file_hash(path: Path) -> str:
    from .fingerprints import file_fingerprint

    # file_fingerprint's digest (remembered by path, size and mtime), so checking a corpus a run has
    # just read costs no second read.
    return "blake2b:" + file_fingerprint(path)


def task_files(root: Path, task: str, layout: str) -> list[Path]:
    """The files a task reads in a folder of `layout` (folder: `<task>/**`; hub: `<config>/<task>-*`)."""
    if layout == "hub":
        return sorted(p for p in root.glob(f"*/{task}-*") if p.is_file())
    folder = root / task
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def source_record(root: Path, tasks: list[str], layout: str, description: str, hub_repo: str | None,
                  revision_id: str | None) -> dict:
    """SOURCE.json's content for an export: where it came from and the hash of every file written."""
    from . import __version__

    files = [p for t in tasks for p in task_files(root, t, layout)]
    if layout == "hub":
        files.append(root / "README.md")  # its `configs:` decide which parquet file each split reads
    return {"source": description, "hub_repo": hub_repo, "revision_id": revision_id, "layout": layout,
            "written_by": f"bright-eval {__version__} data export",
            "files": {p.relative_to(root).as_posix(): file_hash(p) for p in files}}


def exported_from(source, tasks: list[str]) -> tuple[str | None, str | None]:
    """(hub repo, revision) an export of `tasks` from `source` may record: the hub's own, or those of
    a `data export` it is a copy of, whose files for those tasks are still the ones written; (None,
    None) otherwise. (Counts are checked when the copy is used.)"""
    identity = Identity(source)
    if identity.provenance() or any(identity.files_differ(t) for t in tasks):
        return None, None
    return identity.repo, identity.revision


# -- the check -----------------------------------------------------------------------------------------
class Identity:
    """Per task, why the data a source gives is not known to be BRIGHT ("" when it is). Provenance is
    decided once; each task's content is checked when first asked."""

    def __init__(self, source):
        self.source = getattr(source, "inner", source)  # the Anserini view reads the same data
        self.repo: str | None = None
        self.revision: str | None = None
        self.is_proxy = False
        self._provenance: str | None = None
        self._record: dict | None = None
        self._root: Path | None = None
        self._layout = "folder"
        self._tasks: dict[str, str] = {}

    def provenance(self) -> str:
        if self._provenance is None:
            try:
                self._provenance = self._check_provenance()
            except BrightEvalError as exc:
                self._provenance = f"could not check where the data comes from ({exc})"
        return self._provenance

    def _check_provenance(self) -> str:
        from .data import HubSource, LocalSource

        src = self.source
        if isinstance(src, LocalSource):
            self._root = Path(src.root)
        elif isinstance(src, HubSource) and src.local:
            self._root, self._layout = Path(src.path), "hub"
        elif isinstance(src, HubSource):
            if src.repo != BRIGHT_REPO:
                return f"hub dataset {src.repo} is not {BRIGHT_REPO}"
            rev = src.revision_id
            if not rev:
                return f"{BRIGHT_REPO}: the revision read could not be resolved"
            self.repo, self.revision = src.repo, rev
            return ""
        else:
            return f"{getattr(src, 'description', type(src).__name__)} is not a BRIGHT source this check knows"
        if (self._root / "PROXY.md").exists():
            self.is_proxy = True
            return PROXY_REASON
        return self._check_record()

    def _check_record(self) -> str:
        path = self._root / SOURCE_FILE
        if not path.exists():
            return f"{self._root} has no {SOURCE_FILE}: not a folder written by `bright-eval data export` from {BRIGHT_REPO}"
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            return f"{path}: not readable JSON ({exc})"
        if not isinstance(rec, dict):
            return f"{path}: expected a JSON object"
        repo, rev, files = rec.get("hub_repo"), rec.get("revision_id"), rec.get("files")
        if repo != BRIGHT_REPO:
            return f"{path}: exported from {repo or rec.get('source') or 'an unnamed source'}, not {BRIGHT_REPO}"
        if not isinstance(rev, str) or not _SHA.match(rev):
            return f"{path}: records no hub revision (revision_id {rev!r}); re-export with `bright-eval data export`"
        if not isinstance(files, dict) or not files:
            return f"{path}: lists no file hashes (written by an older bright-eval); re-export with `bright-eval data export`"
        if rec.get("layout", "folder") != self._layout:
            return f"{path}: written for the {rec.get('layout')!r} layout, read as {self._layout!r}"
        self._record, self.repo, self.revision = rec, repo, rev
        if self._layout == "hub":
            return self._files_differ([self._root / "README.md"])
        return ""

    def _files_differ(self, paths: list[Path]) -> str:
        """Why the files a task reads are not those `data export` wrote ("" when they are)."""
        files = self._record["files"]
        for p in paths:
            rel = p.relative_to(self._root).as_posix()
            if rel not in files:
                return f"{p} was not written by `data export` ({SOURCE_FILE} does not list it)"
            if file_hash(p) != files[rel]:
                return f"{p} differs from the file `data export` wrote (its hash does not match {SOURCE_FILE})"
        return ""

    def task(self, task: str) -> str:
        if task not in self._tasks:
            why = self.provenance()
            try:
                if not why:
                    why = self._check_task(task)
                elif not self.is_proxy and self._looks_like_proxy(task):
                    why = PROXY_REASON  # a copy of the proxy that lost its PROXY.md is still the proxy
            except BrightEvalError as exc:
                why = why or f"could not check {task} ({exc})"
            self._tasks[task] = why
        return self._tasks[task]

    def _looks_like_proxy(self, task: str) -> bool:
        from .proxy import answer_id

        examples = self.source.examples(task)
        return bool(examples) and all(e.gold_ids == [answer_id(task, e.id)] for e in examples)

    def files_differ(self, task: str) -> str:
        """Why a task's files are not those `data export` wrote ("" when they are, or for the hub)."""
        if self._record is None:
            return ""
        paths = task_files(self._root, task, self._layout)
        listed = {k for k in self._record["files"] if (k.startswith(f"{task}/") if self._layout == "folder"
                                                         else k.split("/")[-1].startswith(f"{task}-"))}
        missing = listed - {p.relative_to(self._root).as_posix() for p in paths}
        if missing:
            return f"{self._root / sorted(missing)[0]}: written by `data export` but missing now"
        return self._files_differ(paths)

    def _check_task(self, task: str) -> str:
        why = self.files_differ(task)
        if why:
            return why
        counts = published_counts().get(task)
        if counts is None:
            return f"BRIGHT publishes no counts for task '{task}'"
        examples = self.source.examples(task)
        if len(examples) != counts.queries:
            return f"{task}: {len(examples)} queries; BRIGHT has {counts.queries}"
        ids = self.source.documents(task).id_set
        if len(ids) not in counts.documents:
            want = " or ".join(f"{n:,}" for n in counts.documents)
            return f"{task}: {len(ids):,} documents; BRIGHT has {want}"
        missing = sum(1 for e in examples for g in e.gold_ids if g not in ids)
        if missing:
            return f"{task}: {missing} gold id(s) are not in the corpus"
        return ""
