"""Loading BRIGHT: examples, documents, long documents and precomputed reasoning queries.

Two sources share one interface: a local folder in the layout of `shared/bright/` (plus
`documents.jsonl[.gz]` or `documents.parquet` per task) and the Hugging Face hub
(`xlangai/BRIGHT`). `get_source` picks the folder from `--data-dir` / `BRIGHT_DATA_DIR`, else the hub.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterable, Protocol

from .errors import BrightEvalError, DataNotFound, require
from .io import Fingerprint, read_jsonl_lines
from .tasks import TASKS

log = logging.getLogger(__name__)

HUB_REPO = "xlangai/BRIGHT"
# BRIGHT's own names for its precomputed reasoning configs (`<name>_reason` on the hub).
BRIGHT_REASONING = ("gpt4", "claude-3-opus", "llama3-70b", "Gemini-1.0", "grit")
NA = "N/A"


def _ids(value, where: str, field_name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BrightEvalError(f"{where}: field '{field_name}' must be a list of strings, got {value!r:.80}")
    return [v for v in value if v != NA]


def _id(value, where: str, field_name: str = "id") -> str:
    # bool is an int; null and lists would become the ids "None" / "[1]" and silently match nothing.
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BrightEvalError(f"{where}: field '{field_name}' must be a string, got {value!r:.80}")
    return str(value)


def _text(value, where: str, field_name: str, optional: bool = False) -> str:
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise BrightEvalError(f"{where}: field '{field_name}' must be a string, got {value!r:.80}")
    return value


@dataclass
class Example:
    """One BRIGHT query. `excluded_ids` has BRIGHT's "N/A" placeholder removed."""

    id: str
    query: str
    gold_ids: list[str]
    excluded_ids: list[str] = field(default_factory=list)
    gold_ids_long: list[str] = field(default_factory=list)
    reasoning: str = ""
    gold_answer: str = ""

    @classmethod
    def from_record(cls, rec: dict, where: str) -> "Example":
        for name in ("id", "query", "gold_ids"):
            if name not in rec:
                raise BrightEvalError(f"{where}: missing field '{name}' (BRIGHT examples need id, query, gold_ids)")
        return cls(
            id=_id(rec["id"], where),
            query=_text(rec["query"], where, "query"),
            gold_ids=_ids(rec["gold_ids"], where, "gold_ids"),
            excluded_ids=_ids(rec.get("excluded_ids"), where, "excluded_ids"),
            gold_ids_long=_ids(rec.get("gold_ids_long"), where, "gold_ids_long"),
            reasoning=_text(rec.get("reasoning"), where, "reasoning", optional=True),
            gold_answer=_text(rec.get("gold_answer"), where, "gold_answer", optional=True),
        )

    def to_record(self) -> dict:
        return {
            "id": self.id,
            "query": self.query,
            "gold_ids": self.gold_ids,
            "excluded_ids": self.excluded_ids or [NA],
            "gold_ids_long": self.gold_ids_long or [NA],
            "reasoning": self.reasoning,
            "gold_answer": self.gold_answer,
        }


def _check_unique(ids: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    dups: list[str] = []
    for i in ids:
        if i in seen:
            dups.append(i)
        seen.add(i)
    if dups:
        raise BrightEvalError(f"{what}: {len(dups)} duplicate id(s), e.g. {dups[:3]}; ids must be unique")


class Corpus:
    """Documents of one task, in a fixed order; `fingerprint` keys every cached artefact built on it."""

    def __init__(self, ids: list[str], texts: list[str], origin: str = ""):
        if len(ids) != len(texts):
            raise ValueError("ids and texts differ in length")
        _check_unique(ids, origin or "corpus")
        self.ids = ids
        self.texts = texts
        self.origin = origin

    @classmethod
    def from_dict(cls, docs: dict[str, str], origin: str = "") -> "Corpus":
        return cls(list(docs), list(docs.values()), origin)

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def fingerprint(self) -> str:
        fp = Fingerprint()
        for i, t in zip(self.ids, self.texts):
            fp.update(i, t)
        return fp.hexdigest()

    @cached_property
    def id_set(self) -> frozenset[str]:
        return frozenset(self.ids)


def examples_fingerprint(examples: list[Example]) -> str:
    fp = Fingerprint()
    for ex in examples:
        fp.update(ex.id, ex.query, "\x1f".join(ex.gold_ids), "\x1f".join(ex.excluded_ids))
    return fp.hexdigest()


def check_gold_in_corpus(task: str, examples: list[Example], corpus: Corpus) -> int:
    """Warn (not fail) when gold ids are missing from the corpus: BRIGHT's own data has none,
    but subsets and proxies do, and scores are then bounded below 1."""
    missing = sum(1 for ex in examples for g in ex.gold_ids if g not in corpus.id_set)
    if missing:
        total = sum(len(ex.gold_ids) for ex in examples)
        n_q = sum(1 for ex in examples if any(g not in corpus.id_set for g in ex.gold_ids))
        log.warning("%s: %d of %d gold ids (in %d queries) are not in the corpus", task, missing, total, n_q)
    return missing


class DataSource(Protocol):
    description: str

    def examples(self, task: str) -> list[Example]: ...
    def documents(self, task: str, long: bool = False) -> Corpus: ...
    def reasoning(self, task: str, name: str) -> dict[str, str]: ...


class LocalSource:
    """A folder with one sub-folder per task (layout of `shared/bright/`)."""

    DOC_NAMES = ("documents.jsonl.gz", "documents.jsonl", "documents.parquet")

    def __init__(self, root: Path | str):
        self.root = Path(root).expanduser()
        if self.root.exists() and not self.root.is_dir():
            raise BrightEvalError(f"data directory {self.root} is a file, not a folder (from --data-dir / BRIGHT_DATA_DIR); "
                                  f"expected a folder with one sub-folder per task")
        if not self.root.is_dir():
            raise BrightEvalError(f"data directory {self.root} does not exist (from --data-dir / BRIGHT_DATA_DIR)")
        self.description = f"local:{self.root.resolve()}"

    def _task_dir(self, task: str) -> Path:
        if task not in TASKS:
            raise BrightEvalError(f"unknown task '{task}'; valid tasks: {', '.join(TASKS)}")
        d = self.root / task
        if not d.is_dir():
            raise DataNotFound(f"{d}: task folder not found in data directory {self.root}")
        return d

    def examples(self, task: str) -> list[Example]:
        path = self._task_dir(task) / "examples.jsonl"
        if not path.exists():
            raise DataNotFound(f"{path}: file not found; expected BRIGHT's examples (one JSON object per line)")
        exs = [Example.from_record(rec, f"{path}:{n}") for n, rec in read_jsonl_lines(path)]
        if not exs:
            raise BrightEvalError(f"{path}: no examples (the file is empty); expected one JSON object per line with "
                                  f"id, query, gold_ids")
        _check_unique((e.id for e in exs), str(path))
        return exs

    def _find(self, task: str, stem: str) -> Path | None:
        d = self._task_dir(task)
        for name in (f"{stem}.jsonl.gz", f"{stem}.jsonl", f"{stem}.parquet"):
            if (d / name).exists():
                return d / name
        return None

    def documents(self, task: str, long: bool = False) -> Corpus:
        stem = "long_documents" if long else "documents"
        path = self._find(task, stem)
        if path is None:
            d = self._task_dir(task)
            raise DataNotFound(
                f"no {stem} for task '{task}': looked for {stem}.jsonl.gz, {stem}.jsonl and {stem}.parquet in {d}. "
                f"BRIGHT's documents come from the Hugging Face hub: run without --data-dir, or make a local "
                f"mirror with `bright-eval data export --to DIR` on a machine that reaches the hub"
            )
        if path.suffix == ".parquet":
            rows = _parquet_rows(path)
        else:
            rows = ((f"{path}:{n}", rec) for n, rec in read_jsonl_lines(path, required=("id", "content")))
        ids, texts = [], []
        for where, rec in rows:
            ids.append(_id(rec["id"], where))
            texts.append(_text(rec["content"], where, "content"))
        if not ids:
            raise BrightEvalError(f"{path}: no documents (the file is empty); expected one {{\"id\", \"content\"}} object per line")
        return Corpus(ids, texts, str(path))

    def reasoning(self, task: str, name: str) -> dict[str, str]:
        d = self._task_dir(task) / "reasoning"
        for fname in (f"{name}.jsonl", f"{name}_reason.jsonl", f"{name}.jsonl.gz"):
            if (d / fname).exists():
                return {_id(r["id"], f"{d / fname}:{n}"): _text(r["query"], f"{d / fname}:{n}", "query")
                        for n, r in read_jsonl_lines(d / fname, required=("id", "query"))}
        have = sorted(p.name for p in d.glob("*.jsonl*")) if d.is_dir() else []
        raise DataNotFound(f"{d}: no reasoning file for '{name}' (found: {', '.join(have) or 'none'})")


def _parquet_rows(path: Path):
    import pandas as pd

    try:
        df = pd.read_parquet(path, columns=["id", "content"])
    except Exception as exc:  # pyarrow's errors for a damaged file or a missing column have no common base
        raise BrightEvalError(f"{path}: not a readable parquet file with columns id, content "
                              f"({type(exc).__name__}: {str(exc)[:200]})") from None
    # Row numbers count from 1, like JSONL line numbers.
    pairs = zip(df["id"].tolist(), df["content"].tolist())  # tolist: plain str/int, not numpy scalars
    return ((f"{path}: row {n}", {"id": i, "content": c}) for n, (i, c) in enumerate(pairs, 1))


class HubSource:
    """`xlangai/BRIGHT` through `datasets`, which caches downloads under HF_HOME."""

    def __init__(self, repo: str = HUB_REPO, cache_dir: str | None = None, revision: str | None = None):
        self.repo = repo
        self.cache_dir = cache_dir
        self.revision = revision
        self.description = f"hub:{repo}" + (f"@{revision}" if revision else "")

    def _load(self, config: str, task: str):
        datasets = require("datasets", "core", "loading BRIGHT from the Hugging Face hub")
        try:
            return datasets.load_dataset(self.repo, config, split=task, cache_dir=self.cache_dir, revision=self.revision)
        except Exception as exc:  # network, auth, missing split: all end the same way for the user
            raise DataNotFound(
                f"could not load {self.repo} config '{config}' split '{task}' from the Hugging Face hub "
                f"({type(exc).__name__}: {str(exc)[:200]}). Offline? Point --data-dir / BRIGHT_DATA_DIR at a local "
                f"mirror made with `bright-eval data export`"
            ) from None

    def examples(self, task: str) -> list[Example]:
        if task not in TASKS:
            raise BrightEvalError(f"unknown task '{task}'; valid tasks: {', '.join(TASKS)}")
        ds = self._load("examples", task)
        exs = [Example.from_record(rec, f"{self.repo}/examples/{task}[{n}]") for n, rec in enumerate(ds)]
        _check_unique((e.id for e in exs), f"{self.repo}/examples/{task}")
        return exs

    def documents(self, task: str, long: bool = False) -> Corpus:
        config = "long_documents" if long else "documents"
        ds = self._load(config, task)
        return Corpus([str(i) for i in ds["id"]], list(ds["content"]), f"{self.repo}/{config}/{task}")

    def reasoning(self, task: str, name: str) -> dict[str, str]:
        ds = self._load(f"{name}_reason", task)
        return {str(r["id"]): r["query"] for r in ds}


def get_source(data_dir: str | Path | None = None) -> DataSource:
    data_dir = data_dir or os.environ.get("BRIGHT_DATA_DIR")
    if data_dir:
        return LocalSource(data_dir)
    return HubSource()
