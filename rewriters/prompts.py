"""Every prompt, system message and answer parser of query reasoning, in one place, used by the
rewriters (evaluation) and by training (`training/data.py`, `training/rewards.py`).

Sources (read at bigai-nlco/TongSearch-QR @ 1cdf6a48b1d2c3d088d3de2a762b65b23ef23b00, MIT, and
xlang-ai/BRIGHT @ d99e8391d967d4c2b3a74732530d2309e2fc92b6):

* evaluation user turn: scripts/evaluation/question_rewriting.py:34-40 ("Query: {question}" and a
  blank line); the released VllmModel always sends a system message first, "" unless think mode
  (vllm_model.py:54-58, question_rewriting.py:70-72). An empty system message matters: Qwen2.5's
  chat template only inserts its default "You are Qwen, ..." system turn when there is none.
* training user turn: scripts/data_process/sample_stackexchange.py:29-35,79-80 ("Question: " then the
  question, nothing after it); training rows carry a system message, "" unless think mode
  (scripts/data_process/build_dataset.py:37-46,72-75).
* think-mode system prompts: evaluation question_rewriting.py:62-69 and training build_dataset.py:42-45
  differ by one word (", respectively,"): each is reproduced where it is used.
* answer pattern: vllm_model.py:20 and scripts/train/reward.py:28 (the same regex).
* BRIGHT's LLM reasoning: reason.py:157-162 (prompt: the post with newlines replaced by spaces, a
  blank line, then the instructions) and reason.py:89-99 (system message "You are a helpful
  assistant", no final period; temperature 0.8, top_p 0.8, max_tokens 2048 from reason.py:75,87).
"""

from __future__ import annotations

import re

from bright_eval.errors import BrightEvalError

_STEPS = (
    "Instructions:\n"
    "1. Identify the essential problem.\n"
    "2. Think step by step to reason and describe what information could be relevant and helpful to address the questions in detail.\n"
    "3. Draft an answer with as many thoughts as you have.\n"
)

# question_rewriting.py:34-40: the instructions, "Query: <question>" and a blank line.
TSQR_PROMPT = _STEPS + "Query: {question}\n\n"
# sample_stackexchange.py:29-35,80: the same instructions, "Question: " and the question, nothing after it.
TSQR_TRAIN_PREFIX = _STEPS + "Question: "
# reason.py:158-162: BRIGHT's post (newlines flattened) first, then the instructions.
BRIGHT_PROMPT = "{question}\n\n" + _STEPS
# reason.py:89 (OpenAIModel.generate's default; format_chat's own default, with a period, is overridden).
BRIGHT_SYSTEM = "You are a helpful assistant"

_THINK_HEAD = ("A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
               "The assistant first thinks about the reasoning process in the mind and then provides the user with the answer. "
               "The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags")
_THINK_TAIL = ", i.e., <think> reasoning process here </think> <answer> answer here </answer>."
THINK_SYSTEM_EVAL = _THINK_HEAD + _THINK_TAIL  # question_rewriting.py:62-69
THINK_SYSTEM_TRAIN = _THINK_HEAD + ", respectively" + _THINK_TAIL  # build_dataset.py:42-45

# vllm_model.py:20 == reward.py:28.
THINK_PATTERN = re.compile(r"<think>.*?</think>\s*<answer>(.*?)</answer>", re.DOTALL)
_ASSISTANT = "<|im_start|>assistant"

PROMPTS = ("tsqr", "bright")


def check_prompt(prompt: str) -> str:
    if prompt not in PROMPTS:
        raise BrightEvalError(f"--prompt must be one of {', '.join(PROMPTS)}, got '{prompt}'")
    return prompt


def user_message(prompt: str, question: str) -> str:
    if prompt == "bright":
        return BRIGHT_PROMPT.format(question=question.replace("\n", " "))
    return TSQR_PROMPT.format(question=question)


def eval_messages(prompt: str, question: str, think: bool) -> list[dict]:
    """The chat a rewriter sends for one query. Think mode replaces the system message with
    TongSearch-QR's evaluation think prompt (question_rewriting.py:60-69), for either prompt."""
    if think:
        system = THINK_SYSTEM_EVAL
    else:
        system = BRIGHT_SYSTEM if prompt == "bright" else ""
    return [{"role": "system", "content": system}, {"role": "user", "content": user_message(check_prompt(prompt), question)}]


def train_messages(question: str, think: bool) -> list[dict]:
    """A training row's prompt (build_dataset.py:72-75 over sample_stackexchange.py:80)."""
    return [{"role": "system", "content": THINK_SYSTEM_TRAIN if think else ""},
            {"role": "user", "content": TSQR_TRAIN_PREFIX + question}]


def think_answer(text: str) -> str | None:
    """The stripped <answer> of a `<think>...</think> <answer>...</answer>` completion, or None
    when the pattern is absent (an unterminated <answer> is absent: the pattern needs </answer>)."""
    m = THINK_PATTERN.search(text)
    return m.group(1).strip() if m else None


def inference_text(completion: str, think: bool) -> str:
    """What the released inference keeps (vllm_model.py:68-69,81-85): in think mode the answer, or
    the raw completion when the pattern is absent; otherwise the raw completion, unstripped."""
    if think:
        answer = think_answer(completion)
        return completion if answer is None else answer
    return completion


def reward_query(completion: str, think: bool) -> str:
    """The query the released reward scores (reward.py:12-34): text after "<|im_start|>assistant"
    if present, the answer in think mode ("" when the pattern is absent), stripped. "" -> reward -1."""
    text = completion.split(_ASSISTANT, 1)[1] if _ASSISTANT in completion else completion
    if think:
        answer = think_answer(text)
        return "" if answer is None else answer
    return text.strip()
