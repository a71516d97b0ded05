"""Numbers that belong to other inputs are never served: the reuse rule covers content, settings
and names; inputs are checked before paid work; Ctrl-C keeps what finished and says so."""

from __future__ import annotations

import gzip
import json
import sys

import pytest

from bright_eval.cache import ArtifactCache
from bright_eval.data import LocalSource
from bright_eval.errors import BrightEvalError
from bright_eval.execute import RUN_LOG, execute
from bright_eval.experiment import build_request
from bright_eval.plan import make_plan
from bright_eval.retrievers import RETRIEVERS
from bright_eval.rewriters import REWRITERS, Original
from bright_eval.scoreboard import build

TASKS = ("biology", "economics")


@pytest.fixture
def data(make_proxy, tmp_path):
    return make_proxy(tmp_path / "data", 12, TASKS)


def _run(data, results, cache, **settings):
    request = build_request(settings.pop("rewriters", ["original"]), ["bm25"], settings.pop("tasks", "biology"), **settings)
    plan = make_plan(request, LocalSource(data), results, ArtifactCache(cache))
    return plan, execute(plan)


def test_documents_changed_in_place_are_recomputed(data, tmp_path):
    results, cache = tmp_path / "r", tmp_path / "c"
    _, (first,) = _run(data, results, cache)
    docs = data / "biology" / "documents.jsonl.gz"
    gold = {g for line in (data / "biology" / "examples.jsonl").read_text().splitlines() for g in json.loads(line)["gold_ids"]}
    rows = [json.loads(line) for line in gzip.open(docs, "rt")]
    with gzip.open(docs, "wt") as fh:  # the same path, ten gold documents fewer
        fh.writelines(json.dumps(r) + "\n" for r in rows if r["id"] not in sorted(gold)[:10])
    plan, (second,) = _run(data, results, cache)
    assert plan.cells[0].status == "compute" and plan.cells[0].reason == "inputs changed: data"
    assert second.status == "done" and second.ndcg10 < first.ndcg10
    _, (fresh,) = _run(data, tmp_path / "fresh", tmp_path / "c2")
    assert second.ndcg10 == pytest.approx(fresh.ndcg10)
    plan, (third,) = _run(data, results, cache)
    assert third.status == "reused"  # unchanged content: reused, without rehashing (size + mtime)


def test_examples_and_rewrites_are_part_of_the_identity(data, tmp_path):
    results, cache = tmp_path / "r", tmp_path / "c"
    _run(data, results, cache, rewriters=["bright:TongSearch-QR-7B"])
    f = data / "biology" / "reasoning" / "TongSearch-QR-7B.jsonl"
    lines = f.read_text().splitlines()
    first = json.loads(lines[0])
    first["query"] = "a different rewrite"
    f.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    plan, _ = _run(data, results, cache, rewriters=["bright:TongSearch-QR-7B"])
    assert plan.cells[0].status == "compute" and plan.cells[0].reason == "inputs changed: rewritten queries"


def test_settings_never_share_a_file_and_tables_refuse_to_mix_them(data, tmp_path):
    results, cache = tmp_path / "r", tmp_path / "c"
    _, (deep,) = _run(data, results, cache)
    _, (shallow,) = _run(data, results, cache, top_k=1)
    assert deep.path != shallow.path and deep.status == shallow.status == "done"
    assert json.loads(open(deep.path).read())["settings"]["top_k"] == 1000
    with pytest.raises(BrightEvalError, match="different settings.*--settings.*--split-settings"):
        build(results)
    (row,) = build(results, settings="top_k=1").rows
    assert row.scores["biology"] == pytest.approx(100 * shallow.ndcg10) and row.retriever == "bm25 [top_k=1]"
    assert {r.retriever for r in build(results, split_settings=True).rows} == {"bm25", "bm25 [top_k=1]"}


def test_names_carry_every_option_that_changes_output():
    assert REWRITERS.display_name("openai:gpt-4o", {"base_url": "http://my-server/v1"}) == "openai:gpt-4o(base_url=http://my-server/v1)"
    assert REWRITERS.display_name("openai:gpt-4o", {"concurrency": 4}) == "openai:gpt-4o"  # speed, not text
    assert RETRIEVERS.display_name("bm25", {"k1": 0.9}) == "bm25"  # the default, spelt out
    assert RETRIEVERS.display_name("bm25", {"k1": 1.2, "b": 0.75}) == "bm25(b=0.75,k1=1.2)"
    with pytest.raises(BrightEvalError, match="no option 'devcie'.*Did you mean: device"):
        RETRIEVERS.create("all-minilm-l6-v2", {"devcie": "cpu"})


class Counting(Original):
    calls: list[str] = []

    def is_cached(self, queries):
        return False  # behaves like a paid API: nothing known before generating

    def rewrite(self, queries):
        Counting.calls.append(queries[0].task)
        if queries[0].task == "economics" and Counting.interrupt:
            raise KeyboardInterrupt
        return [q.text.upper() for q in queries]


@pytest.fixture
def counting():
    Counting.calls, Counting.interrupt = [], False
    REWRITERS.register("test-counting", "test only")(lambda: Counting())
    yield Counting
    REWRITERS._entries.pop("test-counting", None)


def test_missing_documents_block_before_any_paid_call(data, tmp_path, counting):
    (data / "economics" / "documents.jsonl.gz").unlink()
    plan, cells = _run(data, tmp_path / "r", tmp_path / "c", rewriters=["test-counting"], tasks="biology,economics")
    assert [(c.task, c.status) for c in plan.cells] == [("biology", "compute"), ("economics", "blocked")]
    assert "no documents for task 'economics'" in plan.cells[1].reason
    assert [c.status for c in cells] == ["done", "blocked"] and counting.calls == ["biology"]


def _main(monkeypatch, *args):
    from bright_eval.cli import main

    monkeypatch.setattr(sys, "argv", ["bright-eval", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        main()
    return exc.value.code


def test_only_blocked_cells_is_one_clear_error(data, tmp_path, counting, monkeypatch, capsys):
    (data / "economics" / "documents.jsonl.gz").unlink()
    code = _main(monkeypatch, "run", "--rewriter", "test-counting", "--tasks", "economics", "--data-dir", data,
                 "--results-dir", tmp_path / "r")
    err = capsys.readouterr().err
    assert code == 2 and "nothing can run: no documents for task 'economics'" in err and "Traceback" not in err
    assert counting.calls == []


def test_ctrl_c_keeps_finished_cells_logs_and_says_so(data, tmp_path, counting, monkeypatch, capsys):
    counting.interrupt = True
    results = tmp_path / "r"
    code = _main(monkeypatch, "matrix", "--rewriters", "test-counting", "--retrievers", "bm25", "--tasks", "biology,economics",
                 "--data-dir", data, "--results-dir", results)
    err = capsys.readouterr().err
    assert code == 130 and "interrupted" in err and "rerun the same command to resume" in err
    assert (results / "test-counting" / "bm25" / "biology.json").exists()
    (line,) = [json.loads(x) for x in (results / RUN_LOG).read_text().splitlines()]
    assert line["interrupted"] is True and line["counts"]["done"] == 1
    counting.interrupt = False
    assert _main(monkeypatch, "matrix", "--rewriters", "test-counting", "--retrievers", "bm25", "--tasks", "biology,economics",
                 "--data-dir", data, "--results-dir", results) == 0
    assert counting.calls == ["biology", "economics", "economics"]  # the rerun did only what was missing


def test_results_files_get_ordinary_permissions(data, tmp_path):
    import os
    import stat

    umask = os.umask(0)
    os.umask(umask)
    _, (cell,) = _run(data, tmp_path / "r", tmp_path / "c")
    for path in (cell.path, cell.path.replace(".json", ".run.gz")):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask, path
