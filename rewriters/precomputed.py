"""Rewrites that already exist: files (`file:PATH`) and BRIGHT's reasoning configs (`bright:NAME`).

File forms: JSONL rows {"id","query"} (optionally with "task"), a path with a `{task}`
placeholder (`file:../shared/bright/{task}/reasoning/TongSearch-QR-7B.jsonl`), and TongSearch-QR's
JSON map {original query text: rewrite}, which is matched by query text (the theoremqa tasks share
texts, so text is the only key that file has).
"""

from __future__ import annotations

import json
from pathlib import Path

from bright_eval.errors import BrightEvalError
from bright_eval.fields import field_id
from bright_eval.io import Fingerprint, read_jsonl_lines, read_text
from bright_eval.tasks import TASKS

from . import Query, RewriteStats
from .compose import check_mode, compose_each


def _missing(where: str, missing: list[str], total: int) -> BrightEvalError:
    return BrightEvalError(f"{where}: no rewrite for {len(missing)} of {total} queries (ids {', '.join(missing[:5])}"
                           f"{', ...' if len(missing) > 5 else ''}); expected one row per query id")


def _unique_keys(path: Path, pairs: list[tuple[str, object]]) -> dict:
    """json.loads keeps the last of two equal keys without a word; a rewrite map must not."""
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise BrightEvalError(f"{path}: query text {k!r:.80} appears twice; expected one rewrite per query")
        out[k] = v
    return out


class FileRewriter:
    def __init__(self, path: str, compose_mode: str = "replace"):
        self.template = path
        self.compose_mode = check_mode(compose_mode)
        self.name = f"file:{path}"  # the registry adds the options that change the output
        self.stats = RewriteStats()
        self._tables: dict[Path, tuple[str, dict]] = {}
        self._agnostic_task: str | None = None

    def _path(self, task: str) -> Path:
        return Path(self.template.replace("{task}", task)).expanduser()

    def _load(self, path: Path) -> tuple[str, dict]:
        """('id', {(task|None, id): text}) or ('text', {query text: rewrite})."""
        if path in self._tables:
            return self._tables[path]
        if not path.exists():
            raise BrightEvalError(f"{path}: rewrite file not found")
        if path.suffix == ".json":
            try:
                obj = json.loads(read_text(path, "a JSON object {original query text: rewrite}"),
                                 object_pairs_hook=lambda pairs: _unique_keys(path, pairs))
            except json.JSONDecodeError as exc:
                raise BrightEvalError(f"{path}: malformed JSON at line {exc.lineno} ({exc.msg})") from None
            if not isinstance(obj, dict) or not all(isinstance(v, str) for v in obj.values()):
                raise BrightEvalError(f"{path}: expected a JSON object mapping original query text -> rewrite (TongSearch-QR format)")
            table = ("text", obj)
        else:
            rows: dict = {}
            first: dict = {}
            for n, rec in read_jsonl_lines(path, required=("id", "query"), what="rewrite rows {\"id\", \"query\"} as JSON lines"):
                if not isinstance(rec["query"], str):
                    raise BrightEvalError(f"{path}:{n}: field 'query' must be a string")
                key = (rec.get("task"), field_id(rec["id"], f"{path}:{n}"))
                if key in first:
                    task = f" (task {key[0]})" if key[0] is not None else ""
                    raise BrightEvalError(f"{path}:{n}: id '{key[1]}'{task} appears twice (first on line {first[key]}); "
                                          f"expected one rewrite per query id")
                first[key] = n
                rows[key] = rec["query"]
            table = ("id", rows)
        self._tables[path] = table
        return table

    def _lookup(self, path: Path, kind: str, table: dict, q: Query):
        if kind == "text":
            return table.get(q.text)
        hit = table.get((q.task, q.id))
        if hit is None and (None, q.id) in table:
            if "{task}" not in self.template:
                # Ids repeat across tasks ("0" is in every task): a task-less file may serve one task only.
                if self._agnostic_task not in (None, q.task):
                    raise BrightEvalError(f"{path}: rows have no 'task' field, so the file can serve one task, but it was asked for "
                                          f"'{self._agnostic_task}' and '{q.task}'; add a 'task' field or put {{task}} in the path")
                self._agnostic_task = q.task
            hit = table[(None, q.id)]
        return hit

    def rewrite(self, queries: list[Query]) -> list[str]:
        texts: list[str] = []
        missing: dict[Path, list[str]] = {}
        for q in queries:
            path = self._path(q.task)
            kind, table = self._load(path)
            text = self._lookup(path, kind, table, q)
            if text is None:
                missing.setdefault(path, []).append(q.id)
            texts.append(text or "")
        if missing:
            path, ids = next(iter(missing.items()))
            raise _missing(str(path), ids, len(queries))
        self.stats.from_cache += len(queries)
        return compose_each(self.name, queries, texts, self.compose_mode, self.stats)

    def is_cached(self, queries: list[Query]) -> bool:
        return True  # nothing to generate

    def spec(self) -> dict:
        fp = Fingerprint()
        paths = [self._path(t) for t in TASKS] if "{task}" in self.template else [self._path("")]
        for p in paths:
            if p.is_file():
                fp.update(str(p), p.read_bytes().decode("utf-8", "replace"))
        return {"name": self.name, "kind": "precomputed-file", "path": self.template, "content_fingerprint": fp.hexdigest(),
                "compose": self.compose_mode}


# BRIGHT's hub configs are `<name>_reason`; users type lower case.
BRIGHT_NAMES = {"gpt4": "gpt4", "claude-3-opus": "claude-3-opus", "llama3-70b": "llama3-70b", "gemini-1.0": "Gemini-1.0", "grit": "grit"}


class BrightReasoning:
    """BRIGHT's precomputed reasoning queries, or any `<data-dir>/<task>/reasoning/<name>.jsonl`."""

    def __init__(self, name: str, source, compose_mode: str = "replace"):
        if source is None:
            raise BrightEvalError("bright: rewriters need a data source")
        self.set_name = BRIGHT_NAMES.get(name.lower(), name)
        self.source = source
        self.compose_mode = check_mode(compose_mode)
        self.name = f"bright:{name}"
        self.stats = RewriteStats()
        self._cache: dict[str, dict[str, str]] = {}

    def rewrite(self, queries: list[Query]) -> list[str]:
        texts, missing = [], []
        for q in queries:
            if q.task not in self._cache:
                self._cache[q.task] = self.source.reasoning(q.task, self.set_name)
            text = self._cache[q.task].get(q.id)
            if text is None:
                missing.append(q.id)
            texts.append(text or "")
        if missing:
            raise _missing(f"{self.source.description} reasoning '{self.set_name}' ({queries[0].task})", missing, len(queries))
        self.stats.from_cache += len(queries)
        return compose_each(self.name, queries, texts, self.compose_mode, self.stats)

    def is_cached(self, queries: list[Query]) -> bool:
        return True  # nothing to generate

    def spec(self) -> dict:
        return {"name": self.name, "kind": "precomputed-bright", "set": self.set_name, "source": self.source.description,
                "compose": self.compose_mode}
