"""Loading BRIGHT: examples, documents, long documents and precomputed reasoning queries.

Two sources share one interface: a local folder in the layout of `shared/bright/` (plus
`documents.jsonl[.gz]` or `documents.parquet` per task) and the Hugging Face hub
(`xlangai/BRIGHT`). `get_source` picks the folder from `--data-dir` / `BRIGHT_DATA_DIR`, else the hub.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .components import Versioned  # noqa: F401 -- re-exported: sources are declared here
from .corpus import Corpus
from .errors import BrightEvalError, DataNotFound, require
from .fields import NA, check_run_safe, check_unique, field_id, field_ids, field_text
from .io import Fingerprint, read_jsonl_lines
from .tasks import TASKS

__all__ = ["Corpus", "DataSource", "Example", "HubSource", "LocalSource", "Versioned", "get_source"]

log = logging.getLogger(__name__)

HUB_REPO = "xlangai/BRIGHT"
# BRIGHT's own names for its precomputed reasoning configs (`<name>_reason` on the hub).
BRIGHT_REASONING = ("gpt4", "claude-3-opus", "llama3-70b", "Gemini-1.0", "grit")


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
    def from_record(cls, rec: dict, where: str) -> Example:
        for name in ("id", "query", "gold_ids"):
            if name not in rec:
                raise BrightEvalError(f"{where}: missing field '{name}' (BRIGHT examples need id, query, gold_ids)")
        return cls(
            id=field_id(rec["id"], where),
            query=field_text(rec["query"], where, "query"),
            gold_ids=field_ids(rec["gold_ids"], where, "gold_ids"),
            excluded_ids=field_ids(rec.get("excluded_ids"), where, "excluded_ids"),
            gold_ids_long=field_ids(rec.get("gold_ids_long"), where, "gold_ids_long"),
            reasoning=field_text(rec.get("reasoning"), where, "reasoning", optional=True),
            gold_answer=field_text(rec.get("gold_answer"), where, "gold_answer", optional=True),
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


def warn_unreachable_gold(task: str, examples: list[Example]) -> int:
    """Warn about queries every gold id of which is also excluded: BRIGHT removes excluded ids from the
    run before scoring, so these queries score 0 on every metric whatever the system does."""
    bad = [ex.id for ex in examples if ex.gold_ids and set(ex.gold_ids) <= set(ex.excluded_ids)]
    if bad:
        log.warning("%s: %d of %d queries have every gold id also in excluded_ids (ids %s%s): they score 0 on every metric",
                    task, len(bad), len(examples), ", ".join(bad[:5]), ", ..." if len(bad) > 5 else "")
    return len(bad)


class DataSource(Protocol):
    description: str

    def examples(self, task: str) -> list[Example]: ...
    def documents(self, task: str, long: bool = False) -> Corpus: ...
    def documents_fingerprint(self, task: str, long: bool = False) -> str:
        """The content identity of a task's documents, without loading them where possible; equals
        `documents(task, long).fingerprint`. Raises BrightEvalError when they are missing."""
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
        check_unique((e.id for e in exs), str(path))
        warn_unreachable_gold(task, exs)
        return exs

    def _find(self, task: str, stem: str) -> Path | None:
        return one_file(self._task_dir(task), stem, (".jsonl.gz", ".jsonl", ".parquet"))

    def _documents_path(self, task: str, long: bool) -> Path:
        stem = "long_documents" if long else "documents"
        path = self._find(task, stem)
        if path is None:
            d = self._task_dir(task)
            raise DataNotFound(
                f"no {stem} for task '{task}': looked for {stem}.jsonl.gz, {stem}.jsonl and {stem}.parquet in {d}. "
                f"BRIGHT's documents come from the Hugging Face hub: run without --data-dir, or make a local "
                f"mirror with `bright-eval data export --to DIR` on a machine that reaches the hub"
            )
        return path

    def documents_fingerprint(self, task: str, long: bool = False) -> str:
        from .documents_file import hash_and_ids
        from .fingerprints import file_fingerprint

        path = self._documents_path(task, long)
        return "file:" + file_fingerprint(path, hasher=None if path.suffix == ".parquet" else hash_and_ids)

    def documents(self, task: str, long: bool = False) -> Corpus:
        path = self._documents_path(task, long)
        fp = self.documents_fingerprint(task, long)
        if path.suffix != ".parquet":
            from .documents_file import FileCorpus

            corpus = FileCorpus(path, fp.removeprefix("file:"))
            corpus.ids  # noqa: B018 - read now (cheap once cached): a bad id fails here, not mid-run
            return corpus
        ids, texts = [], []
        for where, rec in _parquet_rows(path):
            ids.append(field_id(rec["id"], where))
            texts.append(field_text(rec["content"], where, "content"))
        if not ids:
            raise BrightEvalError(f"{path}: no documents (the file is empty); expected one {{\"id\", \"content\"}} object per line")
        return Corpus(ids, texts, str(path), fp)

    def reasoning(self, task: str, name: str) -> dict[str, str]:
        d = self._task_dir(task) / "reasoning"
        path = one_file(d, name, (".jsonl", "_reason.jsonl", ".jsonl.gz"))
        if path is not None:
            out: dict[str, str] = {}
            first: dict[str, int] = {}
            for n, r in read_jsonl_lines(path, required=("id", "query")):
                qid = field_id(r["id"], f"{path}:{n}")
                if qid in first:
                    raise BrightEvalError(f"{path}:{n}: id '{qid}' appears twice (first on line {first[qid]}); "
                                          f"expected one rewrite per query id")
                first[qid] = n
                out[qid] = field_text(r["query"], f"{path}:{n}", "query")
            return out
        have = sorted(p.name for p in d.glob("*.jsonl*")) if d.is_dir() else []
        raise DataNotFound(f"{d}: no reasoning file for '{name}' (found: {', '.join(have) or 'none'})")


def one_file(folder: Path, stem: str, suffixes: tuple[str, ...]) -> Path | None:
    """The one file `<stem><suffix>` in `folder`, or None. Two of them (a `documents.jsonl.gz` left
    beside a newer `documents.jsonl`) are an error naming both: which one was meant cannot be told,
    and picking one silently would score another corpus than the user thinks."""
    found = [folder / f"{stem}{sfx}" for sfx in suffixes if (folder / f"{stem}{sfx}").exists()]
    if len(found) > 1:
        raise BrightEvalError(f"{folder}: {len(found)} files hold the same data ({', '.join(p.name for p in found)}); "
                              f"expected one: remove or rename the others")
    return found[0] if found else None


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
    """`xlangai/BRIGHT` through `datasets.load_dataset`, or a mirror in its layout: another repo id, or
    a local dataset repository (`--hub-repo` / BRIGHT_HUB_REPO). Downloads are cached by `datasets`.

    Before the first load it checks, once, that the data can be had: a local repository is read as is;
    otherwise one short request to the hub resolves the revision to a commit. When the hub cannot be
    reached, a copy in the datasets cache is read offline; with none, every access raises the same
    single-line `BrightEvalError` within seconds (no retry storm)."""

    def __init__(self, repo: str | None = None, cache_dir: str | None = None, revision: str | None = None):
        self.repo = repo or os.environ.get("BRIGHT_HUB_REPO") or HUB_REPO
        # HF_DATASETS_CACHE read now (datasets reads it at import), so a test or a wrapper can redirect it.
        self.cache_dir = cache_dir or os.environ.get("HF_DATASETS_CACHE") or None
        self.revision = revision
        local = Path(self.repo).expanduser()
        self.local = local.is_dir()
        self.path = str(local.resolve()) if self.local else self.repo
        self.description = f"hub:{self.path}" + (f"@{revision}" if revision else "")
        self._mode: str | None = None  # "local" | "hub" | "cache" once checked
        self._failure: BrightEvalError | None = None
        self._revision_id: str | None = None
        self._splits: dict[str, list[str]] = {}

    def check(self) -> str:
        """How the data will be read ("local", "hub" or "cache"); raises the offline message if neither."""
        if self._failure is not None:
            raise self._failure
        if self._mode is None:
            try:
                self._mode, self._revision_id = self._resolve()
            except BrightEvalError as exc:
                self._failure = exc
                raise
        return self._mode

    def _resolve(self) -> tuple[str, str | None]:
        from . import hub

        if self.local:
            if not (Path(self.path) / "README.md").exists():
                raise BrightEvalError(f"{self.path}: not a dataset repository (no README.md with a `configs:` list); "
                                      f"write one with `bright-eval data export --layout hub --to DIR`")
            rev = hub.local_revision(Path(self.path))
            if self.revision and not rev.startswith(self.revision):
                raise BrightEvalError(f"{self.path} is at revision {rev}, but --revision asks for {self.revision}; "
                                      f"check out that commit there (git -C {self.path} checkout {self.revision})")
            return "local", rev
        why = "offline mode is on (HF_HUB_OFFLINE)" if hub.hub_offline() else ""
        if not why:
            try:
                return "hub", hub.probe(self.repo, self.revision)
            except ConnectionError as exc:
                why = str(exc)
        cached = hub.cached_revisions(self.repo, self.cache_dir)
        if self.revision:
            cached = [c for c in cached if c.startswith(self.revision)]
        if not cached:
            raise BrightEvalError(hub.offline_help(self.repo, f"{why}, and no copy is in the datasets cache "
                                                   f"{hub.datasets_cache_dir(self.cache_dir)}"))
        log.warning("%s: %s; reading the cached copy (revision %s)", self.repo, why, cached[0])
        return "cache", hub.hub_cache_ref(self.repo, self.revision) or cached[0]

    @property
    def revision_id(self) -> str | None:
        """The BRIGHT revision results come from: the hub commit, the local repository's git commit
        (or `folder:<hash>`), or the cached copy's commit. Checks availability first."""
        self.check()
        return self._revision_id

    def _load(self, config: str, task: str):
        from . import hub

        datasets = require("datasets", "core", "loading BRIGHT from the Hugging Face hub")
        mode = self.check()
        offline = hub.offline_datasets() if mode == "cache" else contextlib.nullcontext()
        # A pinned hub revision is passed as the resolved commit, so every config comes from the same one.
        revision = self._revision_id if mode == "hub" else None
        try:
            with hub.quiet_hub(), offline:
                return datasets.load_dataset(self.path, config, split=task, cache_dir=self.cache_dir, revision=revision)
        except Exception as exc:  # a missing config or split, a broken file, a dropped connection
            raise DataNotFound(f"could not load {self.path} config '{config}' split '{task}' "
                                  f"({type(exc).__name__}: {str(exc)[:200]})") from None

    def splits(self, config: str) -> list[str]:
        """The tasks a config has (empty when the config does not exist)."""
        if config not in self._splits:
            datasets = require("datasets", "core", "loading BRIGHT from the Hugging Face hub")
            from . import hub

            mode = self.check()
            offline = hub.offline_datasets() if mode == "cache" else contextlib.nullcontext()
            try:
                with hub.quiet_hub(), offline:
                    names = datasets.get_dataset_split_names(self.path, config, cache_dir=self.cache_dir,
                                                             revision=self._revision_id if mode == "hub" else None)
            except Exception:
                names = []
            self._splits[config] = list(names)
        return self._splits[config]

    def reasoning_names(self) -> list[str]:
        """The `<name>_reason` configs this repository has, as names for `reasoning()`."""
        datasets = require("datasets", "core", "loading BRIGHT from the Hugging Face hub")
        from . import hub

        mode = self.check()
        offline = hub.offline_datasets() if mode == "cache" else contextlib.nullcontext()
        with hub.quiet_hub(), offline:
            configs = datasets.get_dataset_config_names(self.path, revision=self._revision_id if mode == "hub" else None)
        return [c[: -len("_reason")] for c in configs if c.endswith("_reason")]

    def examples(self, task: str) -> list[Example]:
        if task not in TASKS:
            raise BrightEvalError(f"unknown task '{task}'; valid tasks: {', '.join(TASKS)}")
        ds = self._load("examples", task)
        exs = [Example.from_record(rec, f"{self.path}/examples/{task}[{n}]") for n, rec in enumerate(ds)]
        check_unique((e.id for e in exs), f"{self.path}/examples/{task}")
        warn_unreachable_gold(task, exs)
        return exs

    def documents_fingerprint(self, task: str, long: bool = False) -> str:
        # A resolved revision names the content without loading it; otherwise `datasets` fingerprints
        # the loaded split by its cached files.
        config = "long_documents" if long else "documents"
        rev = self.revision_id
        if rev:
            return f"hub:{rev}:{config}/{task}"
        return "hub:" + self._load(config, task)._fingerprint

    def documents(self, task: str, long: bool = False) -> Corpus:
        config = "long_documents" if long else "documents"
        ds = self._load(config, task)
        ids = [str(i) for i in ds["id"]]
        check_run_safe(ids, f"{self.path}/{config}/{task}: row")
        return Corpus(ids, list(ds["content"]), f"{self.path}/{config}/{task}", self.documents_fingerprint(task, long))

    def reasoning(self, task: str, name: str) -> dict[str, str]:
        ds = self._load(f"{name}_reason", task)
        where = f"{self.path}/{name}_reason/{task}"
        out: dict[str, str] = {}
        for n, r in enumerate(ds):
            qid = field_id(r["id"], f"{where}[{n}]")
            if qid in out:
                raise BrightEvalError(f"{where}[{n}]: id '{qid}' appears twice; expected one rewrite per query id")
            out[qid] = field_text(r["query"], f"{where}[{n}]", "query")
        return out


def reasoning_names(source: DataSource, task: str | None = None) -> list[str]:
    """The precomputed reasoning sets a source offers (BRIGHT's `*_reason` configs, or the files of a
    local folder's `<task>/reasoning/`); BRIGHT's five names when the source cannot list them."""
    if isinstance(source, HubSource):
        return source.reasoning_names()
    root = source.root if isinstance(source, LocalSource) else None
    if root is not None:
        folders = [Path(root) / t / "reasoning" for t in ([task] if task else TASKS)]
        names = {p.name.split(".jsonl")[0] for d in folders if d.is_dir() for p in d.glob("*.jsonl*")}
        return sorted(n[: -len("_reason")] if n.endswith("_reason") else n for n in names)
    return list(BRIGHT_REASONING)


def has_split(source: DataSource, config: str, task: str) -> bool | None:
    """Whether `source` has `config` ("examples", "documents", "long_documents") for `task` without
    loading it: True/False, or None when the source cannot tell."""
    if isinstance(source, HubSource):
        return task in source.splits(config)
    root = source.root if isinstance(source, LocalSource) else None
    if root is None:
        return None
    if config == "examples":
        return (Path(root) / task / "examples.jsonl").exists()
    return one_file(Path(root) / task, config, (".jsonl.gz", ".jsonl", ".parquet")) is not None


def get_source(data_dir: str | Path | None = None, hub_repo: str | None = None, revision: str | None = None,
               revision_option: str = "--revision") -> DataSource:
    """`--data-dir` / BRIGHT_DATA_DIR (a local folder), else the hub: `--hub-repo` / BRIGHT_HUB_REPO
    (a repo id or a local dataset repository), else `xlangai/BRIGHT`; `revision` pins a hub commit
    (`revision_option` is how the calling command spells that option, for its messages)."""
    env_dir = os.environ.get("BRIGHT_DATA_DIR")
    # The CLI's --data-dir also reads BRIGHT_DATA_DIR: a value equal to it most likely came from there.
    folder_option = "BRIGHT_DATA_DIR in the environment" if env_dir and (not data_dir or str(data_dir) == env_dir) else "--data-dir"
    data_dir = data_dir or env_dir
    if data_dir and hub_repo:
        raise BrightEvalError("give either --data-dir (a local folder) or --hub-repo (a hub mirror), not both "
                              "(is BRIGHT_DATA_DIR set in the environment?)")
    if data_dir:
        if revision:
            given = "BRIGHT_REVISION in the environment" if os.environ.get("BRIGHT_REVISION") == revision else revision_option
            raise BrightEvalError(f"{given} ('{revision}') pins a hub revision, but {folder_option} names a local folder, which has only "
                                  f"the revision it was exported from; drop one of them")
        return LocalSource(data_dir)
    return HubSource(hub_repo, revision=revision)
