"""Leakage guard: training questions must not be BRIGHT queries.

BRIGHT's Stack Exchange tasks are real posts, so a sample of Stack Exchange drawn for training can
contain the very questions the model is later evaluated on. A question is dropped when, after
normalisation, it equals a BRIGHT query (exact) or shares most of its word 3-grams with one
(near duplicate). The overlap is measured against the shorter text (overlap coefficient), because
BRIGHT's queries are "title + body" while a dump may hold the body alone, or quote the question.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

SHINGLE = 3
# Below this many shingles in the shorter text, a high overlap says little (a one-line question
# matches anything that quotes it), so only the exact test applies.
MIN_SHINGLES = 8

_TAG = re.compile(r"<[^>]{0,200}>")
_NON_WORD = re.compile(r"[^\w]+")


def normalise(text: str) -> str:
    """Case, markup, punctuation and whitespace removed: what two copies of one post share."""
    text = html.unescape(_TAG.sub(" ", unicodedata.normalize("NFKC", text)))
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


def shingles(norm: str, n: int = SHINGLE) -> set[str]:
    words = norm.split()
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


@dataclass(frozen=True)
class Match:
    kind: str  # "exact" or "near"
    query_id: str  # "<task>/<id>"
    overlap: float


class LeakageGuard:
    """Index of the protected queries ({"task/id": text}); `check(text)` says whether text is one of them."""

    def __init__(self, queries: dict[str, str], threshold: float = 0.6):
        if not 0 < threshold <= 1:
            raise ValueError(f"near-duplicate threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold
        self.ids = list(queries)
        self._exact: dict[str, str] = {}
        self._sizes: list[int] = []
        self._index: dict[str, list[int]] = {}
        for i, qid in enumerate(self.ids):
            norm = normalise(queries[qid])
            self._exact.setdefault(_digest(norm), qid)
            sh = shingles(norm)
            self._sizes.append(len(sh))
            for s in sh:
                self._index.setdefault(s, []).append(i)

    def __len__(self) -> int:
        return len(self.ids)

    def check(self, text: str) -> Match | None:
        norm = normalise(text)
        hit = self._exact.get(_digest(norm))
        if hit is not None:
            return Match("exact", hit, 1.0)
        sh = shingles(norm)
        if not sh:
            return None
        shared: Counter[int] = Counter()
        for s in sh:
            for i in self._index.get(s, ()):
                shared[i] += 1
        best: Match | None = None
        for i, n in shared.items():
            smaller = min(len(sh), self._sizes[i])
            if smaller < MIN_SHINGLES:
                continue
            overlap = n / smaller
            if overlap >= self.threshold and (best is None or overlap > best.overlap):
                best = Match("near", self.ids[i], overlap)
        return best


def _digest(norm: str) -> str:
    return hashlib.blake2b(norm.encode("utf-8"), digest_size=16).hexdigest()


def bright_queries(source, tasks: Iterable[str]) -> dict[str, str]:
    """{"task/id": query} for the given BRIGHT tasks of a data source."""
    return {f"{task}/{ex.id}": ex.query for task in tasks for ex in source.examples(task)}
