"""RankGPT's listwise reranking with a sliding window (sunnweiwei/RankGPT rank_gpt.py).

Prompt: rank_gpt.py:143-152 (system, instruction, one user/assistant turn pair per passage, the
final instruction), passages cut to their first 300 words (:165-169). Parsing (:190-216): every
non-digit becomes a space, ids are 1-based, repeats and ids outside the window are dropped, and
the window's passages the answer leaves out follow in their current order: any answer, however
malformed, yields a permutation. An answer with no usable id leaves the window unchanged and is
counted in `stats.failed`.

Windows run from the bottom of the head to the top, `window` documents wide, moving up by `step`,
so strong documents bubble up. RankGPT's loop (:237-243) stops as soon as a window would start
above the head, which skips the top documents whenever depth - window is not a multiple of step
and does nothing at all when depth < window. Here, as in rank_llm's `sliding_windows`
(castorini/rank_llm), the last window is clamped to the top; the window shrinks to the depth when
the depth is smaller, and no window follows one that reached the top.
Windows of all queries are sent together, one window position at a time, so an API backend's
concurrency and a local backend's batches are used across queries.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from bright_eval.components import RewriteStats
from bright_eval.errors import BrightEvalError

from .base import DocTexts, heads, write_back

if TYPE_CHECKING:
    from bright_eval.data import Corpus
    from bright_eval.trec import Run

    from .llm import Completer

SYSTEM = "You are RankGPT, an intelligent assistant that can rank passages based on their relevancy to the query."
PREFIX = ("I will provide you with {num} passages, each indicated by number identifier []. \n"
          "Rank the passages based on their relevance to query: {query}.")
POST = ("Search Query: {query}. \nRank the {num} passages above based on their relevance to the search query. The passages should be "
        "listed in descending order using identifiers. The most relevant passages should be listed first. The output format should be "
        "[] > [], e.g., [1] > [2]. Only response the ranking results, do not say any word or explain.")


def windows(n: int, window: int, step: int) -> list[tuple[int, int]]:
    """[start, end) windows over n documents, bottom first; the last one starts at the top."""
    window, out, end = min(window, n), [], n
    while end > 0:
        start = max(end - window, 0)
        out.append((start, end))
        if start == 0:
            break
        end -= step
    return out


def permutation(answer: str, size: int) -> tuple[list[int], bool]:
    """(0-based order of the window's `size` passages, whether the answer named any of them)."""
    cleaned = "".join(c if c.isdigit() else " " for c in answer)
    seen: list[int] = []
    for tok in cleaned.split():
        i = int(tok) - 1
        if 0 <= i < size and i not in seen:
            seen.append(i)
    return seen + [i for i in range(size) if i not in seen], bool(seen)


def messages(query: str, passages: list[str], max_words: int) -> list[dict]:
    num = len(passages)
    msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PREFIX.format(num=num, query=query)},
            {"role": "assistant", "content": "Okay, please provide the passages."}]
    for rank, content in enumerate(passages, 1):
        content = " ".join(content.replace("Title: Content: ", "").strip().split()[:max_words])
        msgs += [{"role": "user", "content": f"[{rank}] {content}"}, {"role": "assistant", "content": f"Received passage [{rank}]."}]
    return msgs + [{"role": "user", "content": POST.format(query=query, num=num)}]


class ListwiseReranker:
    def __init__(self, who: str, completer: Completer, window: int = 20, step: int = 10, doc_max_words: int = 300):
        if window < 2 or step < 1 or step > window:
            raise BrightEvalError(f"{who}: need window >= 2 and 1 <= step <= window, got window={window}, step={step}")
        self.name, self.completer = who, completer
        self.window, self.step, self.doc_max_words = window, step, doc_max_words
        self.stats: RewriteStats = completer.stats

    def spec(self) -> dict:
        return {"name": self.name, "kind": "listwise-sliding-window", "model": self.completer.model(), "system": SYSTEM,
                "prefix": PREFIX, "post": POST, "decoding": asdict(self.completer.decoding), "window": self.window,
                "step": self.step, "doc_max_words": self.doc_max_words}

    def rerank(self, queries: dict[str, str], run: Run, corpus: Corpus, depth: int) -> Run:
        text = DocTexts(corpus)
        parts = heads(queries, run, depth)
        order = {qid: list(head) for qid, (head, _) in parts.items()}
        plan = {qid: windows(len(h), self.window, self.step) for qid, h in order.items()}
        misses: dict[str, int] = {}
        for w in range(max((len(p) for p in plan.values()), default=0)):
            active = [qid for qid, p in plan.items() if w < len(p)]
            reqs = []
            for qid in active:
                s, e = plan[qid][w]
                reqs.append((f"query {qid} (window {s + 1}-{e})", messages(queries[qid], [text(d) for d in order[qid][s:e]], self.doc_max_words)))
            for qid, answer in zip(active, self.completer.complete(reqs)):
                s, e = plan[qid][w]
                perm, named = permutation(answer, e - s)
                if not named:
                    misses[qid] = misses.get(qid, 0) + 1
                cut = order[qid][s:e]
                order[qid][s:e] = [cut[i] for i in perm]
        for qid, n in misses.items():
            self.stats.failed[qid] = f"{n} of {len(plan[qid])} windows answered without a usable passage id"
        return {qid: write_back(order[qid], parts[qid][1]) for qid in parts}
