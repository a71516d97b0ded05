"""BRIGHT's LLM reranker (xlang-ai/BRIGHT rerank.py, `OpenAIModel`, lines 125-183 and 245-255).

All `depth` documents go into one prompt, numbered [1]..[n] with newline runs collapsed to a space
(rerank.py:145); the query's newlines become two spaces (:147). The prompt is :148-156 verbatim,
sent as a user turn after the system message "You are a helpful assistant" (:157, no full stop),
with temperature 0.8, top_p 0.8 and max_tokens 2048 (:126, :138). The answer is parsed from the
last ```json fence (:167-174, a greedy match, so two fences make it unparsable) and mapped back with
`[indices_map[r] for r in response if r in indices_map]` (:181): ids outside 1..n or not integers
are dropped. Scores are `k - rank_id` (:253-254), so a repeated id ends up at its last position.
An unparsable answer, JSON null (:179-180) or a call that fails after the retries (:48-67) keeps the
first-stage order (:248-251); each such query is counted in `stats.failed` with its reason.

Differences (docs/rerankers-and-fusion.md, "BRIGHT's LLM reranker"): JSON that is not a list, or a list naming no passage,
keeps the first-stage order (BRIGHT crashes on a number at :181 and leaves the query empty for a
string, an object or such a list); head documents the answer does not list stay below the listed
ones and the tail beyond `depth` is kept (BRIGHT's run holds only the listed ones); the prompt's
"list of N ids" uses N = depth where BRIGHT uses its output `--k` (:155, :246, no default at :210).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from typing import TYPE_CHECKING

from bright_eval.components import RewriteStats

from .base import DocTexts, heads, write_back

if TYPE_CHECKING:
    from bright_eval.data import Corpus
    from bright_eval.trec import Run

    from .llm import Completer

SYSTEM = "You are a helpful assistant"
PROMPT = ("The following passages are related to query: {query}\n\n"
          "{doc_string}"
          "First identify the essential problem in the query.\n"
          "Think step by step to reason about why each document is relevant or irrelevant.\n"
          "Rank these passages based on their relevance to the query.\n"
          "Please output the ranking result of passages as a list, where the first element is the id of the most relevant "
          "passage, the second element is the id of the second most element, etc.\n"
          "Please strictly follow the format to output a list of {topk} ids corresponding to the most relevant {topk} passages, "
          "sorted from the most to least relevant passage. First think step by step and write the reasoning process, then output "
          "the ranking results as a list of ids in a json format.")
_FENCE = re.compile(r"(?:```json\s*)(.+)(?:```)", re.DOTALL)


def build_prompt(query: str, docs: list[str], topk: int) -> str:
    doc_string = "".join("[{}]. {}\n\n".format(i + 1, re.sub("\n+", " ", d)) for i, d in enumerate(docs))
    return PROMPT.format(query=query.replace("\n", "  "), doc_string=doc_string, topk=topk)


def parse_answer(text: str):
    """The JSON value in the answer's ```json fence, or None (rerank.py:167-174)."""
    matches = _FENCE.findall(text)
    if not matches:
        return None
    try:
        return json.loads(matches[-1].strip())
    except ValueError:
        return None


def new_order(head: list[str], answer: str, topk: int) -> tuple[list[str], str | None]:
    """(the head's new order, why the first-stage order was kept, or None)."""
    parsed = parse_answer(answer)
    if not isinstance(parsed, list):
        # Not BRIGHT's: it crashes on a bare number (rerank.py:181) and ranks nothing for a string or a dict.
        return list(head), "unparsable answer"
    indices_map = {i + 1: d for i, d in enumerate(head)}
    # `isinstance` guard: BRIGHT's `r in indices_map` raises on unhashable items (nested lists).
    ranked_ids = [indices_map[r] for r in parsed if isinstance(r, (int, float)) and r in indices_map]
    score: dict[str, int] = {}
    for rank_id, d in enumerate(ranked_ids):
        score[d] = topk - rank_id
    if not score:
        return list(head), "answer lists no passage of the prompt"
    listed = sorted(score, key=lambda d: -score[d])
    return listed + [d for d in head if d not in score], None


class BrightLLMReranker:
    def __init__(self, who: str, completer: Completer, doc_max_words: int | None = None):
        self.name = who
        self.completer = completer
        self.doc_max_words = doc_max_words
        self.stats: RewriteStats = completer.stats

    def spec(self) -> dict:
        return {"name": self.name, "kind": "bright-llm", "model": self.completer.model(), "system": SYSTEM, "prompt": PROMPT,
                "decoding": asdict(self.completer.decoding), "doc_max_words": self.doc_max_words, "topk": "depth"}

    def _doc(self, text: str) -> str:
        return text if self.doc_max_words is None else " ".join(text.split()[:self.doc_max_words])

    def messages(self, query: str, docs: list[str]) -> list[dict]:
        # topk is BRIGHT's --k (rerank.py:155, :246), its output depth; here the number of passages shown,
        # i.e. --k = --input_k, since every document of the head is to be ranked.
        return [{"role": "system", "content": SYSTEM},
                {"role": "user", "content": build_prompt(query, [self._doc(d) for d in docs], len(docs))}]

    def rerank(self, queries: dict[str, str], run: Run, corpus: Corpus, depth: int) -> Run:
        text = DocTexts(corpus)
        parts = heads(queries, run, depth)
        todo = [qid for qid, (head, _) in parts.items() if head]
        # fallback=True: as rerank.py:48-67 and :247-251, a call that fails for good keeps the first stage.
        answers = self.completer.complete([(f"query {qid}", self.messages(queries[qid], [text(d) for d in parts[qid][0]]))
                                           for qid in todo], fallback=True)
        result: Run = {qid: dict(run[qid]) for qid, (head, _) in parts.items() if not head}
        for qid, answer in zip(todo, answers):
            head, tail = parts[qid]
            if answer is None:
                order, why = list(head), self.completer.failures.get(f"query {qid}", "call failed")
            else:
                order, why = new_order(head, answer, len(head))
            if why:
                self.stats.failed[qid] = why
            result[qid] = write_back(order, tail)
        return result
