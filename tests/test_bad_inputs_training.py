"""Bad inputs to `train prepare --recipe`, `train distill` and `train plan` through the real CLI: exit 2,
one stderr line naming the option/file and what was expected, no traceback."""

from __future__ import annotations

import sys

import pytest

from bright_eval.cli import main

RAW = "tests/fixtures/tsqr_released/raw_v1.json"


def _write(tmp, name, text):
    p = tmp / name
    p.write_text(text)
    return p


CASES = [
    ("recipe-unknown", lambda t: ["train", "prepare", "--recipe", "releasd", "--out", t / "o"], "--recipe must be one of ours, released"),
    ("released-no-input", lambda t: ["train", "prepare", "--recipe", "released", "--out", t / "o"], "--recipe released needs --input FILE"),
    ("released-ours-option", lambda t: ["train", "prepare", "--recipe", "released", "--input", RAW, "--sites", "biology", "--out", t / "o"],
     "--sites: not part of --recipe released"),
    ("released-list", lambda t: ["train", "prepare", "--recipe", "released", "--input", _write(t, "l.json", "[1]"), "--out", t / "o"],
     "l.json: expected a JSON object {question: answer or list of answers}"),
    ("ours-drop-leaks", lambda t: ["train", "prepare", "--drop-leaks", "--out", t / "o"], "--drop-leaks: only for --recipe released"),
    ("distill-bad-item", lambda t: ["train", "distill", "--rewriter", "openai:m", "--base-url", "http://127.0.0.1:9/v1", "--questions",
                                    _write(t, "q.json", '[{"instruction": ""}]'), "--out", t / "o.json"],
     "q.json: item 0: field 'input'"),
    ("distill-not-json", lambda t: ["train", "distill", "--rewriter", "openai:m", "--questions", _write(t, "q.json", "{"), "--out", t / "o.json"],
     "--questions"),
    ("distill-precomputed", lambda t: ["train", "distill", "--rewriter", "original", "--questions", _write(t, "q.json", '["why is the sky blue?"]'),
                                       "--out", t / "o.json"], "--rewriter 'original': distillation needs a model"),
    ("distill-half-price", lambda t: ["train", "distill", "--rewriter", "openai:m", "--questions", RAW, "--out", t / "o.json", "--price-in", "1"],
     "--price-in and --price-out go together"),
    ("plan-one-gpu", lambda t: ["train", "plan", "--config", "tsqr-7b", "--gpus", "1"], "--gpus 1: config 'tsqr-7b' takes rollouts"),
    ("plan-no-split", lambda t: ["train", "plan", "--config", "tsqr-7b", "--gpus", "8", "--rollout-gpus", "1"], "--gpus 8: no workable split"),
]


@pytest.mark.parametrize("make,expect", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_training_input_is_one_line(tmp_path, monkeypatch, capsys, shared_bright, make, expect):
    monkeypatch.setenv("BRIGHT_DATA_DIR", str(shared_bright))
    monkeypatch.setattr(sys, "argv", ["bright-eval", *map(str, make(tmp_path))])
    with pytest.raises(SystemExit) as exc:
        main()
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert expect in err, err
