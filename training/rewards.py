"""Rewards for query reasoning: how much closer does the reasoned query q' bring the question's
relevant documents than the original question q?

Two formulations, both returning their components (not only the total) for logging:

* ``advantage`` — the released code's reward (TongSearch-QR scripts/train/reward.py):
      r = scale * mean_{d in D+} [ s(q', d) - s(q, d) ]          (scale = 10, s = cosine of bge-base)
  extended here by an optional contrast over the negatives D- (``negative_weight`` = 0 reproduces
  the released reward exactly):
      r = scale * ( mean_{D+}[s(q',d) - s(q,d)] - negative_weight * mean_{D-}[s(q',d) - s(q,d)] )
* ``semi-rule`` — the paper's "semi-rule-based reward" (arXiv 2506.11603, Sec. 3, method): a rule
  over a relevance model's scores that compares the reasoned and the original query on the
  relevant documents. The exact equation could not be retrieved while writing this module, so
  this is OUR READING of that description, labelled as such in configs and logs:
      r = 1  if  m(q') > m(q)  else 0,   m(x) = mean_{D+} s(x, d) - [mean_{D-} s(x, d) if D- else 0]
  i.e. a binary, rule-based outcome computed from model scores (hence "semi"-rule).

Format handling is the released code's, through the one parser shared with the rewriters
(`bright_eval.rewriters.prompts.reward_query`, reward.py:12-34): text before "<|im_start|>assistant"
is dropped; in think mode the query is the content of ``<think>...</think> <answer>...</answer>`` and
a completion without that block is unparsable; an empty query is unparsable; unparsable ->
``unparsable`` (-1). The released code scores truncated completions like any other (in think mode
they fail to parse, which is its only length penalty); ``truncated`` (a number) penalises
completions that hit max_completion_length without an end-of-sequence token instead.

The original question q: the released reward embeds what build_dataset.py calls `query`
(reward.py:55,65), which is the same string as the row's user turn (build_dataset.py:59,74,82): the
whole instruction, "Question: " and the question (sample_stackexchange.py:29-35,80). ``original:
prompt`` (default) reproduces that by taking the prompt's user turn; ``original: question`` embeds
the bare question instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from bright_eval.errors import BrightEvalError
from bright_eval.rewriters.prompts import reward_query

KINDS = ("advantage", "semi-rule")
ORIGINALS = ("prompt", "question")


@dataclass
class RewardConfig:
    kind: str = "advantage"
    scale: float = 10.0
    negative_weight: float = 0.0
    unparsable: float = -1.0
    truncated: float | None = None
    original: str = "prompt"  # what q is: the prompt's user turn (released) or the bare question

    def __post_init__(self):
        if self.kind not in KINDS:
            raise BrightEvalError(f"reward.kind must be one of {', '.join(KINDS)}, got '{self.kind}'")
        if self.original not in ORIGINALS:
            raise BrightEvalError(f"reward.original must be one of {', '.join(ORIGINALS)}, got '{self.original}'")

    def to_dict(self) -> dict:
        d = asdict(self)
        if self.kind == "semi-rule":
            d["note"] = "our reading of arXiv 2506.11603 Sec. 3 (exact formula not retrieved)"
        return d


def _text(completion) -> str:
    """TRL passes conversational completions as [{"role": "assistant", "content": ...}]."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, (list, tuple)) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content", ""))
    raise TypeError(f"unexpected completion type {type(completion).__name__}")


def user_turn(prompt) -> str:
    """The released `query`: the user turn of a conversational prompt (a plain prompt is itself)."""
    if isinstance(prompt, str):
        return prompt
    users = [m.get("content", "") for m in prompt if isinstance(m, dict) and m.get("role") == "user"]
    if not users:
        raise BrightEvalError("reward: a prompt without a user turn; rebuild the training set with `bright-eval train prepare`")
    return str(users[-1])


class QueryReward:
    """Callable reward for TRL's GRPOTrainer; also usable directly through `score`."""

    def __init__(self, scorer, config: RewardConfig | None = None, max_completion_length: int | None = None,
                 eos_token_id: int | None = None):
        self.scorer = scorer
        self.config = config or RewardConfig()
        self.max_completion_length = max_completion_length
        self.eos_token_id = eos_token_id
        self.__name__ = f"tsqr_{self.config.kind.replace('-', '_')}"  # TRL names logged metrics after it
        self.calls = 0

    def spec(self) -> dict:
        return {"reward": self.config.to_dict(), "scorer": self.scorer.spec()}

    def score(self, questions: Sequence[str], completions: Sequence[str], positives: Sequence[Sequence[str]],
              negatives: Sequence[Sequence[str]] | None = None, think: Sequence[bool] | None = None,
              truncated: Sequence[bool] | None = None) -> list[dict]:
        """One dict of components per completion; `total` is the reward. `questions` are the texts
        the completions are compared with (q, see the module docstring)."""
        n = len(completions)
        if not (len(questions) == len(positives) == n):
            raise ValueError(f"reward: {n} completions but {len(questions)} questions and {len(positives)} positive lists")
        negatives = negatives if negatives is not None else [[] for _ in range(n)]
        think = think if think is not None else [False] * n
        truncated = truncated if truncated is not None else [False] * n
        cfg = self.config
        queries = [reward_query(c, bool(t)) for c, t in zip(completions, think)]

        # One scorer call for the whole group: distinct query texts x distinct documents.
        q_texts: dict[str, int] = {}
        d_texts: dict[str, int] = {}
        for i in range(n):
            for t in (questions[i], queries[i]):
                if t:
                    q_texts.setdefault(t, len(q_texts))
            for d in list(positives[i]) + list(negatives[i]):
                d_texts.setdefault(d, len(d_texts))
        mat = self.scorer.matrix(list(q_texts), list(d_texts)) if q_texts and d_texts else np.zeros((0, 0))
        self.calls += 1

        out = []
        for i in range(n):
            comp = {"total": 0.0, "parsed": bool(queries[i]), "truncated": bool(truncated[i]), "query_chars": len(queries[i]),
                    "score_pos": math.nan, "score_pos_original": math.nan, "gain_pos": math.nan, "gain_neg": math.nan}
            pos, neg = list(positives[i]), list(negatives[i])
            if not pos:
                raise BrightEvalError(f"reward: question {i} has no positive documents (column 'positives' is empty)")
            if not queries[i]:
                comp["total"] = cfg.unparsable
                out.append(comp)
                continue
            qn, qo = q_texts[queries[i]], q_texts[questions[i]]
            pi = [d_texts[d] for d in pos]
            new_pos, old_pos = mat[qn, pi], mat[qo, pi]
            comp["score_pos"], comp["score_pos_original"] = float(new_pos.mean()), float(old_pos.mean())
            comp["gain_pos"] = float((new_pos - old_pos).mean())
            if neg:
                ni = [d_texts[d] for d in neg]
                new_neg, old_neg = mat[qn, ni], mat[qo, ni]
                comp["gain_neg"] = float((new_neg - old_neg).mean())
            if cfg.kind == "advantage":
                contrast = cfg.negative_weight * comp["gain_neg"] if neg and cfg.negative_weight else 0.0
                comp["total"] = float(cfg.scale * (comp["gain_pos"] - contrast))
            else:
                m_new = new_pos.mean() - (new_neg.mean() if neg else 0.0)
                m_old = old_pos.mean() - (old_neg.mean() if neg else 0.0)
                comp["total"] = 1.0 if m_new > m_old else 0.0
            if truncated[i] and cfg.truncated is not None:
                comp["total"] = float(cfg.truncated)
            out.append(comp)
        return out

    def originals(self, prompts, questions) -> list[str]:
        """q per row: the prompt's user turn (released) or the bare question (reward.original)."""
        if self.config.original == "question":
            return list(questions)
        if prompts is None:
            raise BrightEvalError("reward: original=prompt needs the prompts (TRL passes them); or set reward.original=question")
        return [user_turn(p) for p in prompts]

    def _truncated(self, completion_ids) -> list[bool] | None:
        if completion_ids is None or not self.max_completion_length:
            return None
        return [len(ids) >= self.max_completion_length and (self.eos_token_id is None or ids[-1] != self.eos_token_id)
                for ids in completion_ids]

    def __call__(self, prompts=None, completions=None, completion_ids=None, question=None, positives=None,
                 negatives=None, think=None, log_metric=None, log_extra=None, **_) -> list[float]:
        if question is None or positives is None:
            raise BrightEvalError("reward: the training set needs columns 'question' and 'positives' (build it with `bright-eval train prepare`)")
        comps = self.score(self.originals(prompts, question), [_text(c) for c in completions], positives, negatives, think,
                           self._truncated(completion_ids))
        if log_metric is not None:
            for key in ("gain_pos", "gain_neg", "score_pos", "score_pos_original", "query_chars"):
                vals = [c[key] for c in comps if not math.isnan(c[key])]
                if vals:
                    log_metric(f"reward/{key}", float(np.mean(vals)))
            log_metric("reward/parsed_frac", float(np.mean([c["parsed"] for c in comps])))
            log_metric("reward/truncated_frac", float(np.mean([c["truncated"] for c in comps])))
        if log_extra is not None:
            log_extra("gain_pos", [c["gain_pos"] for c in comps])
            log_extra("parsed", [c["parsed"] for c in comps])
        return [c["total"] for c in comps]
