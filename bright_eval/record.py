"""The one typed results record: what a cell computed and everything needed to trust or reuse it.

`run`, `matrix` and `evaluate` all write this shape through `ResultRecord.build`; leaderboards and
reports read it back with `ResultRecord.from_dict`, which also reads schema-1 files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .io import fingerprint_of
from .provenance import environment

SCHEMA = "bright-eval.result/2"
OLD_SCHEMAS = ("bright-eval.result/1",)
DEFAULT_SETTINGS = {"top_k": 1000, "long_documents": False, "rerank_depth": 100, "rerank_query": "original"}


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
        """A record from a file's JSON, schema 1 or 2; raises KeyError/TypeError on a broken one."""
        obj = dict(obj)
        if obj.get("schema") in OLD_SCHEMAS:
            config = obj.pop("config", {})
            obj["identity"] = config
            obj["identity_fingerprint"] = obj.pop("config_fingerprint", "")
            obj["settings"] = {"top_k": config.get("top_k", 1000), "long_documents": bool(config.get("long_documents", False))}
            obj["schema"] = SCHEMA
        known = {f.name for f in fields(cls)} - {"path"}
        missing = [k for k in ("task", "rewriter", "retriever", "metrics", "per_query", "identity") if k not in obj]
        if missing:
            raise KeyError(missing[0])
        return cls(**{k: v for k, v in obj.items() if k in known}, path=path)
