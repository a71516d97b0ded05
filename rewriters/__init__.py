"""Rewriters turn each BRIGHT query into the text that is sent to the retriever.

Protocol: `rewrite(queries) -> list[str]`, one output per input, same order. A `Query` carries its
task and id as well as its text, because precomputed rewrite sets are keyed by (task, id).
Every name resolves through `REWRITERS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from bright_eval.registry import Registry


@dataclass(frozen=True)
class Query:
    task: str
    id: str
    text: str


@runtime_checkable
class Rewriter(Protocol):
    name: str

    def spec(self) -> dict:
        """What determines the output (model, revision, prompt, decoding, composition)."""

    def rewrite(self, queries: list[Query]) -> list[str]: ...


@dataclass
class RewriteStats:
    """Counters a rewriter fills in; the results file records them."""

    generated: int = 0
    from_cache: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # "task/id" -> reason
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


REWRITERS: Registry[Rewriter] = Registry("rewriter")


class Original:
    """The query as BRIGHT gives it: the baseline every rewriter is compared with."""

    name = "original"

    def __init__(self, **_):  # accepts the shared factory kwargs (cache, source)
        self.stats = RewriteStats()

    def spec(self) -> dict:
        return {"name": self.name}

    def rewrite(self, queries: list[Query]) -> list[str]:
        return [q.text for q in queries]


@REWRITERS.register("original", "the original BRIGHT query, unchanged")
def _original(**kwargs) -> Rewriter:
    return Original(**kwargs)
