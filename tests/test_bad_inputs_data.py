"""Data that says which file it read: ambiguous documents files, rewrite files with an id twice, ids that
would break the TREC run file (exit 2, one stderr line naming file and field/id, no traceback), and the
warnings for empty rewrites, unreachable gold ids and a run made only of fallbacks to the original query.
Table-driven like tests/test_bad_inputs.py; each case corrupts a copy of `tiny_bright`."""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from pathlib import Path

import pytest
from cli_invoke import assert_one_error  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from test_bad_inputs import DOCS, EXAMPLES, Case, T, data_check, edit_line, invoke, run_biology, write  # noqa: E402


def both(*names: str, then=data_check):
    """Put the documents of biology in every one of `names` (beside the original documents.jsonl)."""
    def setup(tmp, data, run):
        text = DOCS(data).read_text()
        for name in names:
            path = data / "biology" / name
            if name.endswith(".gz"):
                path.write_bytes(gzip.compress(text.encode()))
            elif name.endswith(".parquet"):
                import pandas as pd

                pd.read_json(DOCS(data), lines=True).to_parquet(path)
            else:
                path.write_text(text)
        return then(tmp, data)
    return setup


def rewrites(name: str, rows: list[dict] | dict | str, *extra):
    def setup(tmp, data, run):
        body = rows if isinstance(rows, str) else (json.dumps(rows) if isinstance(rows, dict)
                                                   else "".join(json.dumps(r) + "\n" for r in rows))
        path = write(tmp / name, body)
        return run_biology(tmp, data, "--rewriter", f"file:{path}", *extra)
    return setup


def reasoning_set(rows: list[dict]):
    def setup(tmp, data, run):
        write(data / "biology" / "reasoning" / "mine.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
        return run_biology(tmp, data, "--rewriter", "bright:mine")
    return setup


def docs_line(n: int, raw: str):
    def setup(tmp, data, run):
        lines = DOCS(data).read_text().splitlines(keepends=True)
        lines[n - 1] = raw + "\n"
        DOCS(data).write_text("".join(lines))
        return run_biology(tmp, data)
    return setup


def parquet_with_id(n: int, bad_id: str):
    def setup(tmp, data, run):
        import pandas as pd

        df = pd.read_json(DOCS(data), lines=True, dtype={"id": str})
        df.loc[n - 1, "id"] = bad_id
        df.to_parquet(data / "biology" / "documents.parquet")
        DOCS(data).unlink()
        return run_biology(tmp, data)
    return setup


ROWS = [{"id": str(i), "query": f"rewritten question {i}"} for i in range(4)]
EMPTY_TWO = [{**r, "query": "" if r["id"] in ("1", "3") else r["query"]} for r in ROWS]
ALL_EMPTY = [{**r, "query": "  "} for r in ROWS]


def fell_back_in_leaderboard(out: str, tmp: Path) -> None:
    (rec_path,) = (tmp / "res").rglob("biology*.json")
    warnings = json.loads(rec_path.read_text())["warnings"]
    assert any(w.startswith("every rewrite fell back to the original query") for w in warnings), warnings
    from bright_eval.scoreboard import build, to_markdown

    md = to_markdown(build(tmp / "res"))
    assert "bm25 | measured (proxy) † |" in md and "† file:" in md and "every rewrite fell back to the original query on biology" in md, md


CASES = [
    # -- two files for one thing ------------------------------------------------------------------------
    Case("documents-gz-beside-jsonl", both("documents.jsonl.gz"),
         expect=(f"{T}/data/biology", "documents.jsonl.gz", "documents.jsonl", "expected one")),
    Case("documents-parquet-beside-jsonl", both("documents.parquet", then=run_biology),
         expect=(f"{T}/data/biology", "documents.jsonl", "documents.parquet", "expected one")),
    Case("long-documents-two-files", both("long_documents.jsonl", "long_documents.jsonl.gz",
                                          then=lambda tmp, data: run_biology(tmp, data, "--long-documents")),
         expect=(f"{T}/data/biology", "long_documents.jsonl.gz", "long_documents.jsonl)", "expected one")),
    Case("reasoning-two-files", lambda tmp, data, run: (
        write(data / "biology" / "reasoning" / "mine.jsonl", "".join(json.dumps(r) + "\n" for r in ROWS)),
        write(data / "biology" / "reasoning" / "mine.jsonl.gz", gzip.compress(b"")),
        run_biology(tmp, data, "--rewriter", "bright:mine"))[-1],
         expect=(f"{T}/data/biology/reasoning", "mine.jsonl", "mine.jsonl.gz", "expected one")),
    # -- an id twice ------------------------------------------------------------------------------------
    Case("rewrite-file-id-twice", rewrites("rw.jsonl", ROWS + [{"id": "2", "query": "another"}]),
         expect=(f"{T}/rw.jsonl:5", "id '2'", "appears twice", "first on line 3")),
    Case("rewrite-file-task-id-twice", rewrites("rw.jsonl", [{**r, "task": "biology"} for r in ROWS] + [
        {"task": "biology", "id": "0", "query": "again"}]),
         expect=(f"{T}/rw.jsonl:5", "id '0' (task biology)", "appears twice")),
    Case("rewrite-json-map-text-twice", rewrites("rw.json", '{"a question": "x", "a question": "y"}'),
         expect=(f"{T}/rw.json", "'a question'", "appears twice")),
    Case("reasoning-id-twice", reasoning_set(ROWS + [{"id": "1", "query": "again"}]),
         expect=(f"{T}/data/biology/reasoning/mine.jsonl:5", "id '1'", "appears twice")),
    # -- ids that break the TREC run file -----------------------------------------------------------------
    Case("document-id-escaped-tab", docs_line(2, json.dumps({"id": "plants/a\tb.txt", "content": "x"})),
         expect=(f"{T}/data/biology/documents.jsonl:2", "field 'id'", "tab or a line break", "TREC run file")),
    Case("document-id-escaped-newline", docs_line(3, json.dumps({"id": "plants/a\nb.txt", "content": "x"})),
         expect=(f"{T}/data/biology/documents.jsonl:3", "field 'id'", "tab or a line break")),
    Case("document-id-tab-in-parquet", parquet_with_id(4, "a\tb"),
         expect=(f"{T}/data/biology/documents.parquet: row 4", "field 'id'", "tab or a line break")),
    Case("example-id-tab", lambda tmp, data, run: (edit_line(EXAMPLES(data), 2, lambda r: r.update(id="1\t2")),
                                                   run_biology(tmp, data))[1],
         expect=(f"{T}/data/biology/examples.jsonl:2", "field 'id'", "tab or a line break")),
    # -- warnings: exit 0, with the count and what was done -----------------------------------------------
    Case("rewrite-file-some-empty", rewrites("rw.jsonl", EMPTY_TWO), exit=0,
         expect=("2 of 4 rewrites for task biology are empty", "the original query was used for them")),
    Case("rewrite-file-all-empty", rewrites("rw.jsonl", ALL_EMPTY), exit=0, check=fell_back_in_leaderboard,
         expect=("4 of 4 rewrites for task biology are empty", "measures the original queries, not the rewriter",
                 "every rewrite fell back to the original query")),
    Case("reasoning-some-empty", reasoning_set(EMPTY_TWO), exit=0, expect=("bright:mine: 2 of 4 rewrites for task biology are empty",)),
    Case("only-gold-id-excluded", lambda tmp, data, run: (
        edit_line(EXAMPLES(data), 2, lambda r: r.update(excluded_ids=list(r["gold_ids"]))), run_biology(tmp, data))[1], exit=0,
         expect=("biology: 1 of 4 queries have every gold id also in excluded_ids (ids 1)", "score 0 on every metric")),
]


@pytest.fixture
def bad_env(tmp_path, tiny_bright, monkeypatch, capsys):
    data = tmp_path / "data"
    shutil.copytree(tiny_bright, data)
    monkeypatch.setenv("BRIGHT_EVAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("BRIGHT_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    return data, lambda *args: invoke(monkeypatch, capsys, *args)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_bad_data(case, bad_env, tmp_path, caplog):
    data, run = bad_env
    args = case.setup(tmp_path, data, run)
    caplog.clear()
    code, out, err = run(*args)
    expect = [e.replace(T, str(tmp_path)) for e in case.expect]
    if case.exit == 2:
        assert_one_error(code, out, err, expect)
    else:
        assert "Traceback" not in out + err
        assert code == case.exit, f"exit {code}\nstdout: {out}\nstderr: {err}"
        logged = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
        for e in expect:
            assert e in logged, logged
        if case.check:
            case.check(out, tmp_path)


def test_api_answering_null_for_every_query_is_reported_and_marked(bad_env, tmp_path, caplog, monkeypatch):
    """A server that answers `"content": null` to every request: the run finishes on the original queries,
    says so on the terminal with the count, records it and is marked in the leaderboard."""
    pytest.importorskip("openai")
    from stub_openai import Server

    from bright_eval.scoreboard import build, to_markdown

    data, run = bad_env
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    srv = Server(null=True)
    try:
        code, out, err = run(*run_biology(tmp_path, data, "--rewriter", "openai:stub", "--base-url", srv.url))
    finally:
        srv.httpd.shutdown()
    assert code == 0 and "Traceback" not in err, err
    logged = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert "4 of 4 rewrites for task biology are empty (empty completion)" in logged, logged
    lb = build(tmp_path / "res")
    (row,) = lb.rows
    assert row.fell_back == ["biology"] and "†" in to_markdown(lb)
    assert lb.to_dict()["rows"][0]["fell_back_to_original"] == ["biology"]


def test_no_import_circle_between_data_documents_file_and_hub():
    """data.py, documents_file.py and hub.py import each other only one way (the shared pieces live in
    corpus.py and fields.py): no module of the three reaches itself through the others."""
    import ast

    root = Path(__file__).resolve().parent.parent / "bright_eval"
    deps = {}
    for name in ("data", "documents_file", "hub", "corpus", "fields"):
        tree = ast.parse((root / f"{name}.py").read_text())
        deps[name] = {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 1 and n.module}
        deps[name] |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 1 and not n.module
                       for a in n.names}

    def reaches(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for d in deps.get(todo.pop(), ()):
                if d not in seen:
                    seen.add(d)
                    todo.append(d)
        return seen

    for name in ("data", "documents_file", "hub"):
        assert name not in reaches(name), (name, deps)


def test_raw_tab_in_a_document_id_is_not_read_past(tmp_path):
    """The id fast path (a regex, no JSON decoding) must not accept a raw tab that json.loads would refuse:
    the ids read at load (and cached by content hash) would hold an id no run file can carry."""
    from bright_eval.documents_file import read_ids
    from bright_eval.errors import BrightEvalError

    path = write(tmp_path / "documents.jsonl", '{"id": "a", "content": "x"}\n{"id": "b\tc", "content": "y"}\n')
    with pytest.raises(BrightEvalError, match=f"{path}:2: malformed JSON"):
        read_ids(path)
