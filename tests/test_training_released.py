"""`train prepare --recipe released` against TongSearch-QR's own builder (scripts/data_process/build_dataset.py
@ 1cdf6a48): its rows on a fixture input are committed as data (tests/fixtures/tsqr_released/README.md),
and when TSQR_BUILD_DATASET names a copy of the script it is run here on the same input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bright_eval.data import LocalSource
from bright_eval.errors import BrightEvalError
from bright_eval.training.data import load_train_rows
from bright_eval.training.released import ReleasedConfig, prepare_released

FIX = Path(__file__).parent / "fixtures" / "tsqr_released"
RAW = FIX / "raw_v1.json"
CASES = [("golden_no_think_max600.json", ReleasedConfig(max_length=600), ["--max-length", "600"]),
         ("golden_think.json", ReleasedConfig(think=True), ["--use-think"])]


def _ours(tmp_path: Path, shared_bright: Path, cfg: ReleasedConfig) -> list[dict]:
    prepare_released(cfg, tmp_path, RAW, LocalSource(shared_bright))
    return pq.read_table(tmp_path / "train.parquet").to_pylist()


@pytest.mark.parametrize("golden,cfg,_", CASES, ids=["no_think_max600", "think"])
def test_rows_equal_the_released_builders_committed_output(tmp_path, shared_bright, golden, cfg, _):
    want = json.loads((FIX / golden).read_text(encoding="utf-8"))
    got = _ours(tmp_path, shared_bright, cfg)
    assert len(got) == len(want)
    for i, (a, b) in enumerate(zip(got, want)):
        assert a == b, f"row {i}"
    assert pq.read_table(tmp_path / "train.parquet").column_names == ["prompt", "answer"]


@pytest.mark.parametrize("golden,cfg,args", CASES, ids=["no_think_max600", "think"])
def test_rows_equal_the_released_script_run_now(tmp_path, shared_bright, golden, cfg, args):
    script = os.environ.get("TSQR_BUILD_DATASET")
    if not script:
        pytest.skip("TSQR_BUILD_DATASET unset: point it at TongSearch-QR's scripts/data_process/build_dataset.py "
                    "(e.g. `git show 1cdf6a48:scripts/data_process/build_dataset.py > /tmp/build_dataset.py`)")
    subprocess.run([sys.executable, script, "--input", str(RAW), "--output-dir", str(tmp_path / "rel"), "--output-name", "x", *args],
                   check=True, capture_output=True)
    theirs = pq.read_table(next((tmp_path / "rel").glob("x_*think/train.parquet"))).to_pylist()
    assert _ours(tmp_path / "ours", shared_bright, cfg) == theirs


def test_card_counts_skips_and_the_guard_reports_without_changing_rows(tmp_path, shared_bright):
    src = LocalSource(shared_bright)
    bio = src.examples("biology")[0]
    raw = json.loads(RAW.read_text(encoding="utf-8"))
    raw["Instructions:\n1. Identify the essential problem.\n2. Think step by step to reason and describe what information could be "
        "relevant and helpful to address the questions in detail.\n3. Draft an answer with as many thoughts as you have.\n"
        "Question: " + bio.query] = "a leaked answer"
    path = tmp_path / "raw.json"
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    card, reused = prepare_released(ReleasedConfig(), tmp_path / "kept", path, src)
    assert not reused and card["n_questions"] == 10 and card["dropped"] == {"png": 1}
    assert card["leakage"]["found_exact"] == 1 and card["leakage"]["matches"][0]["bright_query"] == f"biology/{bio.id}"
    card, _ = prepare_released(ReleasedConfig(drop_leaks=True), tmp_path / "dropped", path, src)
    assert card["n_questions"] == 9 and card["dropped"] == {"png": 1, "leakage_exact": 1}
    again, reused = prepare_released(ReleasedConfig(drop_leaks=True), tmp_path / "dropped", path, src)
    assert reused and again["config_fingerprint"] == card["config_fingerprint"]


def test_released_rows_feed_the_trainer(tmp_path, shared_bright):
    _ours(tmp_path, shared_bright, ReleasedConfig())
    rows = load_train_rows(tmp_path)
    by_q = {r["question"]: r for r in rows}
    root = by_q["How does a plant root know which way is down?"]
    assert root["positives"][1].startswith("Auxin") and root["negatives"] == [] and root["think"] is False
    # The reward's original q is the whole user turn, as the released `query` field (reward.py:55).
    assert root["prompt"][1]["content"].endswith("Question: How does a plant root know which way is down?")
    assert by_q["A question without the sampler's instruction prefix: why does ice float?"]["positives"][0].startswith("Ice is less")


@pytest.mark.parametrize("content,match", [
    ('["a", "b"]', r"raw.json: expected a JSON object .* got list \(a list: the sampler's output"),
    ('{"q": 3}', r"raw.json: the value of question 'q' must be a string or a non-empty list of strings, got 3"),
    ('{"q": []}', r"raw.json: the value of question 'q' must be a string or a non-empty list"),
    ('{"q": "a",', r"raw.json: not valid JSON"),
])
def test_bad_raw_files_name_file_and_what_was_expected(tmp_path, shared_bright, content, match):
    path = tmp_path / "raw.json"
    path.write_text(content)
    with pytest.raises(BrightEvalError, match=match):
        prepare_released(ReleasedConfig(), tmp_path / "o", path, LocalSource(shared_bright))


def test_repeated_question_keeps_the_last_answer_with_a_warning(tmp_path, shared_bright, caplog):
    path = tmp_path / "raw.json"
    path.write_text('{"Why is the sea salty at all?": "first", "Why is the sea salty at all?": "second"}')
    prepare_released(ReleasedConfig(), tmp_path / "o", path, LocalSource(shared_bright))
    (row,) = pq.read_table(tmp_path / "o" / "train.parquet").to_pylist()
    assert json.loads(row["answer"])["pos_docs_list"] == ["second"]
    assert "appear more than once" in caplog.text
