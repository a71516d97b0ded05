"""The systems a results folder holds, keyed for the pages, and how they relate: each system's
baseline (the baseline rewriter under the same retriever, as `report` pairs them), a reranked
system's first stage, a fused run's children."""

from __future__ import annotations

from dataclasses import dataclass, field

from bright_eval.errors import BrightEvalError
from bright_eval.record import ResultRecord
from bright_eval.results import by_system, first_stage_label
from bright_eval.tasks import TASKS


@dataclass
class System:
    key: str                                # short, stable id used in URLs and data ("s0", "s1", ...)
    rewriter: str
    retriever: str                          # the table label: reranker and non-default settings included
    records: dict[str, ResultRecord]        # task -> record
    baseline: str | None = None             # key of the baseline system (same retriever), if any
    first_stage: str | None = None          # key of the run a reranked system reranked
    children: list[str] = field(default_factory=list)  # keys of a fused run's children (same rewriter)

    @property
    def label(self) -> str:
        return f"{self.rewriter} + {self.retriever}"

    @property
    def tasks(self) -> list[str]:
        return [t for t in TASKS if t in self.records]

    def first(self) -> ResultRecord:
        return next(iter(self.records.values()))


def fused_children(retriever: str) -> list[str]:
    """'fuse:rrf(bm25,all-minilm-l6-v2)' -> ['bm25', 'all-minilm-l6-v2'] (top-level commas only)."""
    if not retriever.startswith("fuse:") or "(" not in retriever or not retriever.endswith(")"):
        return []
    from bright_eval.registry import split_top_level

    return [c.strip() for c in split_top_level(retriever[retriever.index("(") + 1:-1]) if "=" not in c.split("(")[0]]


def find_systems(records: list[ResultRecord], baseline: str, only: list[str] | None = None,
                 settings: str | None = None, split_settings: bool = False) -> list[System]:
    """Systems in leaderboard order (retriever, then the baseline rewriter first). `only` keeps the
    systems whose label ('rewriter + retriever') or rewriter or retriever is listed."""
    groups = by_system(records, settings, split_settings)
    if not groups:
        raise BrightEvalError("no results files found (--results-dir); expected the JSON files `run`/`matrix` wrote")
    if baseline not in {rw for rw, _ in groups}:
        have = ", ".join(sorted({rw for rw, _ in groups}))
        raise BrightEvalError(f"--baseline: no results for rewriter '{baseline}'; rewriters found: {have}")
    order = sorted(groups, key=lambda k: (k[1], k[0] != baseline, k[0]))
    if only:
        labels = {f"{rw} + {ret}": (rw, ret) for rw, ret in order}
        for name in only:
            if name not in labels and not any(name in k for k in order):
                raise BrightEvalError(f"--systems: unknown system '{name}'; expected a rewriter, a retriever or "
                                      f"'rewriter + retriever' among: {'; '.join(labels)}")
        order = [k for k in order if f"{k[0]} + {k[1]}" in only or k[0] in only or k[1] in only]
    keys = {k: f"s{i}" for i, k in enumerate(order)}
    systems = []
    for (rw, ret), key in keys.items():
        recs = groups[(rw, ret)]
        sys_ = System(key, rw, ret, recs)
        base = keys.get((baseline, ret))
        sys_.baseline = base if base != key else None
        first = sys_.first()
        if first.reranker:
            sys_.first_stage = keys.get(first_stage_label(first))
        tag = f" [{first.tag}]" if first.tag else ""
        sys_.children = [keys[(rw, c + tag)] for c in fused_children(first.retriever) if (rw, c + tag) in keys]
        systems.append(sys_)
    return systems
