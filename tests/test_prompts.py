"""Prompts and the answer parser, pinned to TongSearch-QR's released code (bigai-nlco/TongSearch-QR @
1cdf6a48) and BRIGHT's reason.py, and the chat text they render to under Qwen2.5's chat template
(tests/fixtures/qwen2.5-instruct.chat_template.jinja: the `chat_template` of the Qwen2.5-Instruct
tokenizers TongSearch-QR is trained from, byte for byte as Qwen ships it, Apache-2.0)."""

from pathlib import Path

import pytest

from bright_eval.rewriters.prompts import (
    BRIGHT_SYSTEM,
    THINK_SYSTEM_EVAL,
    THINK_SYSTEM_TRAIN,
    TSQR_PROMPT,
    TSQR_TRAIN_PREFIX,
    eval_messages,
    inference_text,
    reward_query,
    train_messages,
)

TEMPLATE = (Path(__file__).parent / "fixtures" / "qwen2.5-instruct.chat_template.jinja").read_text()
STEPS = ("Instructions:\n1. Identify the essential problem.\n2. Think step by step to reason and describe what information could "
         "be relevant and helpful to address the questions in detail.\n3. Draft an answer with as many thoughts as you have.\n")


def test_prompt_texts_are_the_released_ones():
    assert TSQR_PROMPT == STEPS + "Query: {question}\n\n"  # question_rewriting.py:34-40
    assert TSQR_TRAIN_PREFIX == STEPS + "Question: "  # sample_stackexchange.py:29-35
    # The two think prompts differ by exactly ", respectively" (question_rewriting.py:62-69 vs build_dataset.py:42-45).
    assert THINK_SYSTEM_TRAIN.replace(" tags, respectively, i.e.,", " tags, i.e.,") == THINK_SYSTEM_EVAL
    assert THINK_SYSTEM_EVAL.endswith("</answer> tags, i.e., <think> reasoning process here </think> <answer> answer here </answer>.")


def test_eval_messages_carry_an_explicit_system_message():
    plain = eval_messages("tsqr", "Q?", think=False)
    assert plain == [{"role": "system", "content": ""}, {"role": "user", "content": STEPS + "Query: Q?\n\n"}]
    assert eval_messages("tsqr", "Q?", think=True)[0] == {"role": "system", "content": THINK_SYSTEM_EVAL}


def test_bright_prompt_flattens_the_post_and_puts_instructions_last():
    msgs = eval_messages("bright", "line one\nline two", think=False)
    assert msgs == [{"role": "system", "content": "You are a helpful assistant"},  # reason.py:89, no final period
                    {"role": "user", "content": "line one line two\n\n" + STEPS}]
    assert BRIGHT_SYSTEM == "You are a helpful assistant"


def test_training_rows_use_question_and_an_empty_system_message():
    assert train_messages("Why?", think=False) == [{"role": "system", "content": ""},
                                                   {"role": "user", "content": STEPS + "Question: Why?"}]
    assert train_messages("Why?", think=True)[0]["content"] == THINK_SYSTEM_TRAIN


@pytest.mark.parametrize("completion, think, inference, reward", [
    ("<think>a</think> <answer> moths </answer>", True, "moths", "moths"),
    # The measured case of issue 10: an answer block without <think>. Released inference keeps the raw
    # text (vllm_model.py:84-85); the released reward cannot parse it (reward.py:30-31 -> -1).
    ("<answer>X</answer>", True, "<answer>X</answer>", ""),
    ("<think>a</think><answer>cut off by the token limit", True, "<think>a</think><answer>cut off by the token limit", ""),
    ("<think>a</think><answer>   </answer>", True, "", ""),
    ("  plain text \n", False, "  plain text \n", "plain text"),
    ("<|im_start|>system\nx<|im_end|><|im_start|>assistant\nlight", False, "<|im_start|>system\nx<|im_end|><|im_start|>assistant\nlight", "light"),
    ("<answer>X</answer>", False, "<answer>X</answer>", "<answer>X</answer>"),
])
def test_one_parser_two_released_contracts(completion, think, inference, reward):
    assert inference_text(completion, think) == inference
    assert reward_query(completion, think) == reward


@pytest.fixture(scope="module")
def qwen_tokenizer():
    pytest.importorskip("transformers")
    from bright_eval.training.models import train_tokenizer

    tok = train_tokenizer(["insects light heat moths"] * 5, vocab_size=300)
    tok.chat_template = TEMPLATE
    return tok


def render(tok, messages):
    return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def test_rendered_chat_text_under_qwen25_template(qwen_tokenizer):
    user = STEPS + "Query: Why do moths fly to lamps?\n\n"
    assert render(qwen_tokenizer, eval_messages("tsqr", "Why do moths fly to lamps?", think=False)) == (
        "<|im_start|>system\n<|im_end|>\n<|im_start|>user\n" + user + "<|im_end|>\n<|im_start|>assistant\n")
    assert render(qwen_tokenizer, eval_messages("tsqr", "Why do moths fly to lamps?", think=True)) == (
        f"<|im_start|>system\n{THINK_SYSTEM_EVAL}<|im_end|>\n<|im_start|>user\n" + user + "<|im_end|>\n<|im_start|>assistant\n")
    # Why the empty system message matters: without it Qwen2.5's template inserts its own.
    assert render(qwen_tokenizer, [{"role": "user", "content": user}]).startswith(
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n")
    assert render(qwen_tokenizer, train_messages("Why?", think=False)) == (
        "<|im_start|>system\n<|im_end|>\n<|im_start|>user\n" + STEPS + "Question: Why?<|im_end|>\n<|im_start|>assistant\n")
