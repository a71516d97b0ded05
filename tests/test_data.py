"""Loading BRIGHT from a local folder (the layout of shared/bright) and the errors users meet."""

import json
import logging

import pytest

from bright_eval.data import HubSource, LocalSource, check_gold_in_corpus, get_source
from bright_eval.errors import BrightEvalError
from bright_eval.tasks import TASKS, parse_tasks

COUNTS = {"biology": 103, "earth_science": 116, "economics": 103, "psychology": 101, "robotics": 101, "stackoverflow": 117,
          "sustainable_living": 108, "leetcode": 142, "pony": 112, "aops": 111, "theoremqa_theorems": 76, "theoremqa_questions": 194}


def test_all_twelve_real_tasks_load(shared_bright):
    src = LocalSource(shared_bright)
    counts = {t: len(src.examples(t)) for t in TASKS}
    assert counts == COUNTS
    aops = src.examples("aops")
    assert all(e.excluded_ids for e in aops) and "N/A" not in aops[0].excluded_ids
    assert src.examples("biology")[0].excluded_ids == []


def test_parse_tasks():
    assert parse_tasks("all") == list(TASKS)
    assert parse_tasks("pony, earth-science") == ["pony", "earth_science"]
    with pytest.raises(BrightEvalError, match="unknown task 'bilogy'.*valid tasks: biology"):
        parse_tasks("bilogy")


def write(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))


def test_malformed_line_names_file_and_line(tmp_path):
    write(tmp_path / "pony" / "examples.jsonl", ['{"id": "0", "query": "q", "gold_ids": ["a"]}\n', '{"id": "1", "query": \n'])
    with pytest.raises(BrightEvalError, match=r"pony/examples.jsonl:2: malformed JSON"):
        LocalSource(tmp_path).examples("pony")


def test_missing_field_is_named(tmp_path):
    write(tmp_path / "pony" / "examples.jsonl", ['{"id": "0", "query": "q"}\n'])
    with pytest.raises(BrightEvalError, match=r"examples.jsonl:1.*missing field 'gold_ids'"):
        LocalSource(tmp_path).examples("pony")


def test_wrong_type_is_named(tmp_path):
    write(tmp_path / "pony" / "examples.jsonl", ['{"id": "0", "query": "q", "gold_ids": "a"}\n'])
    with pytest.raises(BrightEvalError, match=r"field 'gold_ids' must be a list of strings"):
        LocalSource(tmp_path).examples("pony")


def test_duplicate_ids_are_rejected(tmp_path):
    rec = json.dumps({"id": "0", "query": "q", "gold_ids": ["a"]}) + "\n"
    write(tmp_path / "pony" / "examples.jsonl", [rec, rec])
    with pytest.raises(BrightEvalError, match="1 duplicate id"):
        LocalSource(tmp_path).examples("pony")
    write(tmp_path / "pony" / "documents.jsonl", ['{"id": "a", "content": "x"}\n', '{"id": "a", "content": "y"}\n'])
    with pytest.raises(BrightEvalError, match="duplicate id"):
        LocalSource(tmp_path).documents("pony")


def test_missing_documents_say_where_and_how(shared_bright):
    with pytest.raises(BrightEvalError) as e:
        LocalSource(shared_bright).documents("biology")
    msg = str(e.value)
    assert "documents.jsonl.gz" in msg and str(shared_bright / "biology") in msg and "data export" in msg


def test_task_folder_and_data_dir_missing(tmp_path):
    with pytest.raises(BrightEvalError, match="does not exist"):
        LocalSource(tmp_path / "nope")
    with pytest.raises(BrightEvalError, match="task folder not found"):
        LocalSource(tmp_path).examples("pony")


def test_gold_missing_from_corpus_is_a_warning(tmp_path, caplog):
    from bright_eval.data import Corpus, Example

    exs = [Example("0", "q", ["a", "b"]), Example("1", "q", ["c"])]
    with caplog.at_level(logging.WARNING):
        assert check_gold_in_corpus("pony", exs, Corpus(["a", "c"], ["x", "y"])) == 1
    assert "1 of 3 gold ids (in 1 queries)" in caplog.text


def test_documents_from_parquet(tmp_path):
    import pandas as pd

    (tmp_path / "pony").mkdir()
    pd.DataFrame({"id": ["a", "b"], "content": ["x", "y"]}).to_parquet(tmp_path / "pony" / "documents.parquet")
    docs = LocalSource(tmp_path).documents("pony")
    assert docs.ids == ["a", "b"] and docs.texts == ["x", "y"]


def test_source_selection(tmp_path, monkeypatch):
    monkeypatch.delenv("BRIGHT_DATA_DIR", raising=False)
    assert isinstance(get_source(None), HubSource)
    monkeypatch.setenv("BRIGHT_DATA_DIR", str(tmp_path))
    assert isinstance(get_source(None), LocalSource)


# The hub path (real datasets.load_dataset on a local repository in BRIGHT's layout, and the
# unreachable hub) is tested in test_hub.py.
