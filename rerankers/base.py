"""What every reranker shares: which documents are reranked, how their new order is written back
into the run, and how document texts are found.

Depth: the reranked documents are the first `depth` of the first-stage ranking in trec_eval's order
(score descending, then doc id descending), the order the first stage was evaluated in. The rest
(the tail) keep their first-stage scores untouched, so their order, and recall@1000, are unchanged.
The reranked head gets scores `base + n - 1, ..., base` with `base` above every tail score: the
head's order is strict, so no evaluator tie-break can reorder it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bright_eval.errors import BrightEvalError
from bright_eval.trec import ranked

if TYPE_CHECKING:
    from bright_eval.data import Corpus
    from bright_eval.trec import Run


def check_depth(depth: int) -> int:
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise BrightEvalError(f"rerank depth must be a positive integer, got {depth!r}")
    return depth


def split(docs: dict[str, float], depth: int) -> tuple[list[str], list[tuple[str, float]]]:
    """(the ids of the top `depth` in first-stage order, the rest with their scores)."""
    order = ranked(docs)
    return [d for d, _ in order[:depth]], order[depth:]


def write_back(head_order: Sequence[str], tail: list[tuple[str, float]]) -> dict[str, float]:
    """The query's new run: `head_order` strictly above the untouched tail."""
    finite = [s for _, s in tail if math.isfinite(s)]
    base = math.floor(max(finite)) + 1.0 if finite else 1.0
    n = len(head_order)
    out = {d: base + (n - 1 - i) for i, d in enumerate(head_order)}
    if len(out) != n:
        raise ValueError("head_order repeats a document")  # a bug in a reranker, not a user error
    out.update(tail)
    return out


def order_by_scores(head: Sequence[str], scores: Sequence[float]) -> list[str]:
    """Head ids by reranker score, descending; equal scores keep their first-stage order (a stable
    sort), so a reranker that cannot tell two documents apart leaves them as the first stage had them.
    NaN scores (a model that overflowed) sort last."""
    keyed = [(-(s if math.isfinite(s) or s == math.inf else -math.inf), i) for i, s in enumerate(scores)]
    return [head[i] for _, i in sorted(keyed)]


class DocTexts:
    """Doc id -> text for one corpus, built once per corpus object."""

    def __init__(self, corpus: Corpus):
        self.corpus = corpus
        self.pos = {d: i for i, d in enumerate(corpus.ids)}

    def require(self, docid: str) -> int:
        i = self.pos.get(docid)
        if i is None:
            origin = f" ({self.corpus.origin})" if self.corpus.origin else ""
            raise BrightEvalError(f"the run to rerank has document '{docid}', which is not in the corpus{origin}")
        return i

    def __call__(self, docid: str) -> str:
        return self.corpus.texts[self.require(docid)]


def heads(queries: dict[str, str], run: Run, depth: int) -> dict[str, tuple[list[str], list[tuple[str, float]]]]:
    """Per query of the run: (head ids, tail). A query of the run without a query text is an error:
    reranking it with nothing would silently keep the first stage."""
    check_depth(depth)
    missing = [q for q in run if q not in queries]
    if missing:
        raise BrightEvalError(f"no query text for {len(missing)} quer{'y' if len(missing) == 1 else 'ies'} of the run to "
                              f"rerank (e.g. '{missing[0]}')")
    return {qid: split(docs, depth) for qid, docs in run.items()}
