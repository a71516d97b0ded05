"""How a rewrite becomes the retrieval query. TongSearch-QR's protocol replaces the query with the
reasoned text; concatenating keeps the original terms, which BM25 may still need."""

from __future__ import annotations

from bright_eval.errors import BrightEvalError

MODES = ("replace", "original+rewrite")


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise BrightEvalError(f"--compose must be one of {', '.join(MODES)}, got '{mode}'")
    return mode


def compose(original: str, rewrite: str, mode: str) -> str:
    if mode == "replace":
        return rewrite
    return f"{original}\n\n{rewrite}"

