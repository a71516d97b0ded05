"""The one typed results record: what a cell computed and everything needed to trust or reuse it.

`run`, `matrix` and `evaluate` all write this shape through `ResultRecord.build`; leaderboards and
reports read it back with `ResultRecord.from_dict`, which also reads schema-1 files.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from statistics import fmean
from typing import Any

from .io import fingerprint_of
from .provenance import environment

SCHEMA = "bright-eval.result/2"
OLD_SCHEMAS = ("bright-eval.result/1",)
DEFAULT_SETTINGS = {"top_k": 1000, "long_documents": False, "rerank_depth": 100, "rerank_query": "original"}


# A record whose every rewrite was empty measures the original queries under the rewriter's name:
# its warnings say so with this prefix, and leaderboards mark the row.
FELL_BACK = "every rewrite fell back to the original query"


def fell_back(warnings: list[str]) -> bool:
    return any(isinstance(w, str) and w.startswith(FELL_BACK) for w in warnings)


def settings_tag(settings: dict[str, Any]) -> str:
    """'' for BRIGHT's default settings, else e.g. 'top_k=1,long_documents': settings that change
    numbers are part of every results path, so two settings never share a file."""
    parts = []
    for key in sorted(settings):
        value = settings[key]
        if DEFAULT_SETTINGS.get(key, object()) == value or value is None:
            continue
        parts.append(key if value is True else f"{key}={value}")
    return ",".join(parts)


@dataclass
class ResultRecord:
    task: str
    rewriter: str
    retriever: str
    identity: dict[str, Any]              # everything that changes a number; its hash decides reuse
    metrics: dict[str, float]
    per_query: dict[str, dict[str, float]]
    reranker: str | None = None
    settings: dict[str, Any] = field(default_factory=lambda: {"top_k": 1000, "long_documents": False})
    data: dict[str, Any] = field(default_factory=dict)
    queries: dict[str, dict[str, str]] = field(default_factory=dict)
    rewriter_stats: dict[str, Any] = field(default_factory=dict)
    retriever_stats: dict[str, Any] = field(default_factory=dict)  # e.g. an API embedder's requests and cost
    reranker_stats: dict[str, Any] = field(default_factory=dict)  # an LLM reranker's calls, cost, and queries it kept as they were
    warnings: list[str] = field(default_factory=list)
    run_file: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    identity_fingerprint: str = ""
    schema: str = SCHEMA
    path: str = ""                        # where it was read from; not stored

    @classmethod
    def build(cls, *, identity: dict[str, Any], **values) -> ResultRecord:
        """The one constructor for new results: fingerprints the identity and stamps the environment."""
        return cls(identity=identity, identity_fingerprint=fingerprint_of(identity), environment=environment(), **values)

    @property
    def system(self) -> tuple[str, str, str | None]:
        return (self.rewriter, self.retriever, self.reranker)

    @property
    def tag(self) -> str:
        return settings_tag(self.settings)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("path")
        return out

    @classmethod
    def from_dict(cls, obj: dict[str, Any], path: str = "") -> ResultRecord:
        """A record from a file's JSON, schema 1 or 2, checked field by field (`RecordError` names the
        first bad one), including that its metrics are the means of its per-query values."""
        obj = dict(obj)
        if obj.get("schema") in OLD_SCHEMAS:
            config = obj.pop("config", {})
            if not isinstance(config, dict):
                raise RecordError("config", f"expected a table, got {_kind(config)}")
            obj["identity"] = config
            obj["identity_fingerprint"] = obj.pop("config_fingerprint", "")
            obj["settings"] = {"top_k": config.get("top_k", 1000), "long_documents": bool(config.get("long_documents", False))}
            obj["schema"] = SCHEMA
        check_record(obj)
        known = {f.name for f in fields(cls)} - {"path"}
        return cls(**{k: v for k, v in obj.items() if k in known}, path=path)


class RecordError(ValueError):
    """A results record that does not hold what its schema promises, naming the field."""

    def __init__(self, name: str, what: str):
        super().__init__(f"field '{name}': {what}")
        self.field = name


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value).replace("nan", "NaN")
    return {bool: "a boolean", str: "a string", int: "a number", float: "a number", list: "a list", dict: "a table"}.get(
        type(value), type(value).__name__)


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RecordError(name, f"expected a finite number, got {_kind(value) if not isinstance(value, str) else repr(value)}")
    return float(value)


_TABLES = ("identity", "settings", "data", "queries", "rewriter_stats", "retriever_stats", "timings", "environment")


def check_record(obj: dict[str, Any]) -> None:
    """Every field a reader relies on, with the type it must have; raises `RecordError`. A number a
    table shows is trusted only when it is the mean of the per-query values stored beside it."""
    from .tasks import TASKS

    for key in ("task", "rewriter", "retriever", "identity", "metrics", "per_query"):
        if key not in obj:
            raise RecordError(key, "missing")
    for key in ("task", "rewriter", "retriever"):
        if not isinstance(obj[key], str) or not obj[key]:
            raise RecordError(key, f"expected a non-empty string, got {_kind(obj[key])}")
    if obj["task"] not in TASKS:
        raise RecordError("task", f"unknown task '{obj['task']}'; expected one of {', '.join(TASKS)}")
    for key in ("reranker", "run_file"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise RecordError(key, f"expected a string or null, got {_kind(obj[key])}")
    for key in _TABLES:
        if key in obj and not isinstance(obj[key], dict):
            raise RecordError(key, f"expected a table, got {_kind(obj[key])}")
    if "warnings" in obj and not (isinstance(obj["warnings"], list) and all(isinstance(w, str) for w in obj["warnings"])):
        raise RecordError("warnings", "expected a list of strings")
    if not isinstance(obj.get("identity_fingerprint", ""), str):
        raise RecordError("identity_fingerprint", f"expected a string, got {_kind(obj['identity_fingerprint'])}")
    metrics, per_query = obj["metrics"], obj["per_query"]
    if not isinstance(metrics, dict) or not metrics:
        raise RecordError("metrics", f"expected a table of metric -> number, got {_kind(metrics) if metrics else 'an empty one'}")
    for name, value in metrics.items():
        _number(value, f"metrics.{name}")
    if not isinstance(per_query, dict):
        raise RecordError("per_query", f"expected a table of query id -> metrics, got {_kind(per_query)}")
    if not per_query:
        raise RecordError("per_query", "holds no queries, so its metrics cannot be checked")
    for qid, row in per_query.items():
        if not isinstance(row, dict):
            raise RecordError(f"per_query.{qid}", f"expected a table of metric -> number, got {_kind(row)}")
        for name in metrics:
            if name not in row:
                raise RecordError(f"per_query.{qid}", f"no '{name}', which 'metrics' averages")
            _number(row[name], f"per_query.{qid}.{name}")
    for name, value in metrics.items():
        mean = fmean(row[name] for row in per_query.values())
        if not math.isclose(value, mean, rel_tol=1e-9, abs_tol=1e-12):
            raise RecordError(f"metrics.{name}", f"{value!r} is not the mean of its {len(per_query)} per-query values ({mean!r})")
