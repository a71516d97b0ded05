"""TongSearch-QR's query-reasoning prompt (user turn, through the model's chat template, no system
prompt), as published with the models; the trailing blank line is part of it."""

TSQR_PROMPT = (
    "Instructions:\n"
    "1. Identify the essential problem.\n"
    "2. Think step by step to reason and describe what information could be relevant and helpful to address the questions in detail.\n"
    "3. Draft an answer with as many thoughts as you have.\n"
    "Query: {question}\n\n"
)


def tsqr_user_message(question: str) -> str:
    return TSQR_PROMPT.format(question=question)
