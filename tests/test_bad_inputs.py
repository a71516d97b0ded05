"""Every bad input a user can give, one row each, through the real CLI (`bright_eval.cli.main`, in
process): a user error exits 2 with exactly one stderr line naming the file (and field), never a
traceback; inputs that are fine after all (gzip without `.gz`, a BOM, a damaged cache) work, with a
warning where something was repaired or left out. Each case corrupts a copy of `tiny_bright`."""

from __future__ import annotations

import gzip
import json
import math
import random
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cli_invoke import assert_one_error, invoke

from bright_eval.data import Example
from bright_eval.errors import BrightEvalError
from bright_eval.io import check_writable_dir, check_writable_file
from bright_eval.scoring import evaluate_run

RUN = "".join(f"{q} Q0 {d} {r} {s} t\n" for q, d, r, s in [
    ("0", "insects_light/Phototaxis_0.txt", 1, 2.5), ("0", "plants/Chlorophyll_0.txt", 2, 1.5),
    ("1", "sleep/Sleep deprivation_0.txt", 1, 3.0), ("2", "blood/Veins_0.txt", 1, 1.0)])

GARBAGE = random.Random(0).randbytes(3000)  # what a wrong file (an image, a model) looks like




@dataclass
class Case:
    id: str
    setup: Callable[..., list]  # (tmp, data, run) -> CLI args; `run(*args)` invokes the CLI
    exit: int = 2
    expect: tuple[str, ...] = ()  # in the one stderr line (exit 2) or in the log (exit 0); "{tmp}" is the test folder
    check: Callable[[str, Path], None] | None = None  # (stdout, tmp) for cases that must work
    marks: tuple = field(default_factory=tuple)


# -- helpers that write bad inputs ---------------------------------------------------------------------
def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def edit_line(path: Path, n: int, fn) -> None:
    lines = path.read_text().splitlines(keepends=True)
    rec = json.loads(lines[n - 1])
    fn(rec)
    lines[n - 1] = json.dumps(rec) + "\n"
    path.write_text("".join(lines))


def evaluate(run_text: str | bytes, name: str = "r.run"):
    def setup(tmp, data, run):
        return ["evaluate", write(tmp / name, run_text), "--task", "biology", "--data-dir", data, "--format", "json"]
    return setup


def data_check(tmp, data, *extra):
    return ["data", "check", "--tasks", "biology", "--data-dir", data, *extra]


def in_data(fn, *args):
    def setup(tmp, data, run):
        fn(data)
        return data_check(tmp, data, *args)
    return setup


def run_biology(tmp, data, *extra):
    return ["run", "--tasks", "biology", "--data-dir", data, "--results-dir", tmp / "res", "--format", "json", *extra]


def rewriter_file(name: str, content: bytes | str | None):
    def setup(tmp, data, run):
        path = tmp / name
        path.mkdir() if content is None else write(path, content)
        return run_biology(tmp, data, "--rewriter", f"file:{path}")
    return setup


def damaged_cache(kind: str, fname: str, damage, retriever: str = "bm25"):
    """Run once, damage one file of the cached artefact, run again into a fresh results folder."""
    def setup(tmp, data, run):
        code, out, _ = run("run", "--tasks", "biology", "--data-dir", data, "--results-dir", tmp / "first",
                           "--retriever", retriever, "--format", "json")
        assert code == 0
        (tmp / "first.json").write_text(out)
        (target,) = (tmp / "cache" / kind).glob(f"*/{fname}")
        damage(target)
        return ["run", "--tasks", "biology", "--data-dir", data, "--results-dir", tmp / "second", "--retriever", retriever,
                "--format", "json"]
    return setup


def same_after(change):
    """Score the intact data, apply `change` to it, score again: the answer must not move."""
    def setup(tmp, data, run):
        code, out, _ = run(*run_biology(tmp, data), "--results-dir", tmp / "first")
        assert code == 0
        (tmp / "first.json").write_text(out)
        change(data)
        return run_biology(tmp, data)
    return setup


def same_as_first(out: str, tmp: Path) -> None:
    assert json.loads(out) == json.loads((tmp / "first.json").read_text())


def truncate(n: int):
    def damage(path: Path) -> None:
        with open(path, "r+b") as fh:
            fh.truncate(n)
    return damage


def with_afile(*args):
    """CLI args with a regular file at {tmp}/afile to point options at; callables get (tmp, data)."""
    def setup(tmp, data, run):
        write(tmp / "afile", "x")
        return [a(tmp, data) if callable(a) else a for a in args]
    return setup


def parquet(ids, contents):
    def fn(data):
        import pandas as pd

        pd.DataFrame({"id": ids, "content": contents}).to_parquet(data / "biology" / "documents.parquet")
        (data / "biology" / "documents.jsonl").unlink()
    return fn


def gzip_run_without_suffix(tmp, data, run):
    code, out, _ = run(*evaluate(RUN, "plain.run")(tmp, data, run))
    assert code == 0
    (tmp / "first.json").write_text(out)
    return evaluate(gzip.compress(RUN.encode()), "gz.run")(tmp, data, run)


DOCS = lambda d: d / "biology" / "documents.jsonl"  # noqa: E731
EXAMPLES = lambda d: d / "biology" / "examples.jsonl"  # noqa: E731
T = "{tmp}"

CASES = [
    # -- run files (evaluate) -------------------------------------------------------------------------
    Case("run-nan-score", evaluate(RUN + "3 Q0 plants/Chlorophyll_0.txt 1 nan t\n"),
         expect=(f"{T}/r.run:5", "field 'score'", "finite number", "'nan'")),
    Case("run-inf-score", evaluate("0 Q0 blood/Veins_0.txt 1 inf t\n"), expect=(f"{T}/r.run:1", "field 'score'", "'inf'")),
    Case("run-duplicate-different-scores", evaluate(RUN + "0 Q0 insects_light/Phototaxis_0.txt 3 0.5 t\n"),
         expect=(f"{T}/r.run:5", "different score", "line 1", "duplicates with different scores are an error")),
    Case("run-duplicate-same-score", evaluate(RUN + "0 Q0 insects_light/Phototaxis_0.txt 1 2.5 t\n"), exit=0,
         expect=("r.run: 1 line(s) repeat an earlier (qid, docid) line", "first repeat: line 5", "kept the earlier line")),
    Case("run-5-columns-spaced-docid", evaluate("1 Q0 sleep/Sleep deprivation_0.txt 1 3.0\n"),
         expect=(f"{T}/r.run:1", "field 'rank'", "expected 6 columns 'qid Q0 docid rank score tag'")),
    Case("run-column-2-not-Q0", evaluate("1 sleep/Glymphatic_system_0.txt 1 3.0 t x\n"),
         expect=(f"{T}/r.run:1", "field 2 must be 'Q0'")),
    Case("run-binary-garbage", evaluate(GARBAGE), expect=(f"{T}/r.run:1", "not UTF-8 text")),
    Case("run-nul-bytes", evaluate(b"\x00" * 64), expect=(f"{T}/r.run:1", "binary data")),
    Case("run-is-a-directory", lambda tmp, data, run: ["evaluate", tmp, "--task", "biology", "--data-dir", data],
         expect=(f"{T}: is a directory, expected a TREC run file",)),
    Case("run-empty", evaluate("\n\n"), expect=(f"{T}/r.run: run file is empty",)),
    Case("run-truncated-gzip", evaluate(gzip.compress(RUN.encode() * 50)[:60], "r.run.gz"),
         expect=(f"{T}/r.run.gz: damaged gzip data",)),
    Case("run-gzip-without-gz-suffix", gzip_run_without_suffix, exit=0, check=same_as_first),
    # -- scoring --------------------------------------------------------------------------------------
    Case("examples-some-gold-empty", lambda tmp, data, run: (edit_line(EXAMPLES(data), 2, lambda r: r.update(gold_ids=[])),
                                                             evaluate(RUN)(tmp, data, run))[1],
         exit=0, expect=("1 of 4 queries have no gold_ids and are excluded from the averages", "(ids 1)")),
    Case("examples-all-gold-empty", lambda tmp, data, run: ([edit_line(EXAMPLES(data), n, lambda r: r.update(gold_ids=["N/A"]))
                                                             for n in (1, 2, 3, 4)], evaluate(RUN)(tmp, data, run))[1],
         expect=("none of the 4 queries has gold_ids", "field 'gold_ids'")),
    # -- data folder ----------------------------------------------------------------------------------
    Case("examples-empty", in_data(lambda d: EXAMPLES(d).write_text("")), expect=(f"{T}/data/biology/examples.jsonl", "empty")),
    Case("documents-empty", lambda tmp, data, run: (DOCS(data).write_text("\n"), run_biology(tmp, data))[1],
         expect=(f"{T}/data/biology/documents.jsonl", "no documents")),
    Case("documents-content-null", in_data(lambda d: edit_line(DOCS(d), 3, lambda r: r.update(content=None))),
         expect=(f"{T}/data/biology/documents.jsonl:3", "field 'content'", "must be a string")),
    Case("documents-content-number-in-run", lambda tmp, data, run: (edit_line(DOCS(data), 1, lambda r: r.update(content=5)),
                                                                    run_biology(tmp, data))[1],
         expect=(f"{T}/data/biology/documents.jsonl:1", "field 'content'", "must be a string")),
    Case("documents-id-null", in_data(lambda d: edit_line(DOCS(d), 2, lambda r: r.update(id=None))),
         expect=(f"{T}/data/biology/documents.jsonl:2", "field 'id'")),
    Case("documents-missing-content", in_data(lambda d: write(DOCS(d), '{"id": "a", "text": "x"}\n')),
         expect=(f"{T}/data/biology/documents.jsonl:1", "missing field 'content'")),
    Case("documents-latin1", in_data(lambda d: write(DOCS(d), DOCS(d).read_bytes() + '{"id": "x", "content": "café"}\n'.encode("latin1"))),
         expect=(f"{T}/data/biology/documents.jsonl:13", "not UTF-8 text")),
    Case("documents-is-a-directory", in_data(lambda d: (DOCS(d).unlink(), DOCS(d).mkdir())),
         expect=(f"{T}/data/biology/documents.jsonl: is a directory",)),
    Case("documents-gzip-without-gz-suffix", same_after(lambda d: DOCS(d).write_bytes(gzip.compress(DOCS(d).read_bytes()))),
         exit=0, check=same_as_first),
    Case("documents-truncated-gzip", in_data(lambda d: (write(d / "biology" / "documents.jsonl.gz", gzip.compress(DOCS(d).read_bytes())[:200]),
                                                        DOCS(d).unlink())),
         expect=(f"{T}/data/biology/documents.jsonl.gz: damaged gzip data",)),
    Case("documents-parquet-null-content", in_data(parquet(["a", "b"], ["x", None])),
         expect=(f"{T}/data/biology/documents.parquet: row 2", "field 'content'")),
    Case("documents-parquet-garbage", in_data(lambda d: (write(d / "biology" / "documents.parquet", b"PAR1" + b"\x01" * 300),
                                                         DOCS(d).unlink())),
         expect=(f"{T}/data/biology/documents.parquet", "not a readable parquet file")),
    Case("examples-latin1", in_data(lambda d: write(EXAMPLES(d), EXAMPLES(d).read_bytes() + b"\xff\n"), "--no-documents"),
         expect=(f"{T}/data/biology/examples.jsonl:5", "not UTF-8 text")),
    Case("examples-binary-garbage", in_data(lambda d: write(EXAMPLES(d), GARBAGE)),
         expect=(f"{T}/data/biology/examples.jsonl:1", "not UTF-8 text")),
    Case("examples-truncated", in_data(lambda d: write(EXAMPLES(d), EXAMPLES(d).read_bytes()[:-150])),
         expect=(f"{T}/data/biology/examples.jsonl:4", "malformed JSON")),
    Case("examples-array-line", in_data(lambda d: write(EXAMPLES(d), "[1, 2]\n")),
         expect=(f"{T}/data/biology/examples.jsonl:1", "expected a JSON object")),
    Case("examples-id-null", in_data(lambda d: edit_line(EXAMPLES(d), 1, lambda r: r.update(id=None))),
         expect=(f"{T}/data/biology/examples.jsonl:1", "field 'id'", "must be a string")),
    Case("examples-gold-ids-string", in_data(lambda d: edit_line(EXAMPLES(d), 2, lambda r: r.update(gold_ids="a.txt"))),
         expect=(f"{T}/data/biology/examples.jsonl:2", "field 'gold_ids'", "list of strings")),
    Case("examples-excluded-ids-string", in_data(lambda d: edit_line(EXAMPLES(d), 1, lambda r: r.update(excluded_ids="N/A"))),
         expect=(f"{T}/data/biology/examples.jsonl:1", "field 'excluded_ids'")),
    Case("examples-reasoning-number", in_data(lambda d: edit_line(EXAMPLES(d), 3, lambda r: r.update(reasoning=5))),
         expect=(f"{T}/data/biology/examples.jsonl:3", "field 'reasoning'", "must be a string")),
    Case("examples-line-numbers-count-blank-lines", in_data(lambda d: (write(EXAMPLES(d), "\n\n" + EXAMPLES(d).read_text()),
                                                                       edit_line(EXAMPLES(d), 3, lambda r: r.update(query=7)))),
         expect=(f"{T}/data/biology/examples.jsonl:3", "field 'query'")),
    Case("examples-utf8-bom", same_after(lambda d: write(EXAMPLES(d), b"\xef\xbb\xbf" + EXAMPLES(d).read_bytes())), exit=0,
         check=same_as_first),
    Case("examples-crlf", same_after(lambda d: write(EXAMPLES(d), EXAMPLES(d).read_bytes().replace(b"\n", b"\r\n"))), exit=0,
         check=same_as_first),
    Case("examples-missing", in_data(lambda d: EXAMPLES(d).unlink()), expect=(f"{T}/data/biology/examples.jsonl: file not found",)),
    Case("task-folder-missing", in_data(lambda d: shutil.rmtree(d / "biology")), expect=(f"{T}/data/biology: task folder not found",)),
    Case("unknown-task", lambda tmp, data, run: ["run", "--tasks", "bilogy", "--data-dir", data], expect=("unknown task 'bilogy'",)),
    Case("data-dir-is-a-file", lambda tmp, data, run: data_check(tmp, write(tmp / "afile", "x")),
         expect=(f"data directory {T}/afile is a file, not a folder",)),
    # -- `file:` rewriter -----------------------------------------------------------------------------
    Case("rewriter-file-garbage", rewriter_file("rw.jsonl", GARBAGE), expect=(f"{T}/rw.jsonl:1", "not UTF-8 text")),
    Case("rewriter-json-garbage", rewriter_file("rw.json", GARBAGE), expect=(f"{T}/rw.json:1", "not UTF-8 text")),
    Case("rewriter-file-is-a-directory", rewriter_file("rwdir", None), expect=(f"{T}/rwdir: is a directory",)),
    Case("rewriter-json-not-a-map", rewriter_file("rw.json", "[1, 2]"), expect=(f"{T}/rw.json", "expected a JSON object mapping")),
    Case("rewriter-query-not-a-string", rewriter_file("rw.jsonl", '\n{"id": "0", "query": null}\n'),
         expect=(f"{T}/rw.jsonl:2", "field 'query'")),
    # -- damaged cache entries: repaired, same answer --------------------------------------------------
    Case("cache-bm25-truncated-tf", damaged_cache("bm25", "tf.npy", truncate(100)), exit=0, check=same_as_first,
         expect=("bm25: cached index", "is damaged", "deleting it and rebuilding")),
    Case("cache-bm25-emptied-vocab", damaged_cache("bm25", "vocab.json", truncate(0)), exit=0, check=same_as_first,
         expect=("bm25: cached index", "JSONDecodeError", "deleting it and rebuilding")),
    Case("cache-bm25-vocab-too-short", damaged_cache("bm25", "vocab.json", lambda p: p.write_text('["a"]')), exit=0,
         check=same_as_first, expect=("inconsistent sizes",)),
    Case("cache-dense-truncated-docs", damaged_cache("embeddings", "docs.npy", truncate(200), "all-minilm-l6-v2"), exit=0,
         check=same_as_first, expect=("all-minilm-l6-v2: cached embeddings", "are damaged", "re-encoding"), marks=(pytest.mark.slow,)),
    # -- output paths -----------------------------------------------------------------------------------
    Case("report-out-under-file", with_afile("report", "--results-dir", lambda t, d: t, "--out", lambda t, d: t / "afile" / "rep"),
         expect=(f"--out {T}/afile/rep: {T}/afile is a file, not a folder",)),
    Case("leaderboard-output-under-file", with_afile("leaderboard", "--results-dir", lambda t, d: t, "-o",
                                                     lambda t, d: t / "afile" / "lb.md"),
         expect=(f"--out {T}/afile/lb.md: {T}/afile is a file, not a folder",)),
    Case("data-proxy-to-under-file", with_afile("data", "proxy", "--tasks", "biology", "--data-dir", lambda t, d: d, "--to",
                                                lambda t, d: t / "afile" / "p"),
         expect=(f"--out {T}/afile/p: {T}/afile is a file",)),
    Case("data-export-to-is-a-file", with_afile("data", "export", "--tasks", "biology", "--data-dir", lambda t, d: d, "--to",
                                                lambda t, d: t / "afile"),
         expect=(f"--out {T}/afile: it is a file, not a folder",)),
    Case("rewrite-out-under-file", with_afile("rewrite", "-r", "original", "--tasks", "biology", "--data-dir", lambda t, d: d,
                                              "--out", lambda t, d: t / "afile" / "sub" / "rw.jsonl"),
         expect=(f"--out {T}/afile/sub/rw.jsonl: {T}/afile is a file",)),
    Case("rewrite-out-is-a-folder", with_afile("rewrite", "-r", "original", "--tasks", "biology", "--data-dir", lambda t, d: d,
                                               "--out", lambda t, d: d),
         expect=(f"--out {T}/data: is a folder, expected a file name",)),
    Case("train-prepare-out-under-file", with_afile("train", "prepare", "--input", lambda t, d: t / "none.jsonl", "--data-dir",
                                                    lambda t, d: d, "--out", lambda t, d: t / "afile" / "tp"),
         expect=(f"--out {T}/afile/tp: {T}/afile is a file",)),
    Case("leaderboard-results-dir-is-a-file", with_afile("leaderboard", "--results-dir", lambda t, d: t / "afile"),
         expect=(f"--results-dir {T}/afile: is a file, not a folder",)),
    Case("report-results-dir-is-a-file", with_afile("report", "--results-dir", lambda t, d: t / "afile"),
         expect=(f"--results-dir {T}/afile: is a file, not a folder",)),
    Case("run-results-dir-under-file", with_afile("run", "--tasks", "biology", "--data-dir", lambda t, d: d, "--results-dir",
                                                  lambda t, d: t / "afile" / "r"),
         expect=(f"--results-dir {T}/afile/r: {T}/afile is a file, not a folder",)),
    Case("matrix-cache-dir-under-file", with_afile("matrix", "--rewriters", "original", "--retrievers", "bm25", "--tasks", "biology",
                                                   "--data-dir", lambda t, d: d, "--results-dir", lambda t, d: t / "r",
                                                   "--cache-dir", lambda t, d: t / "afile" / "c"),
         expect=(f"--cache-dir {T}/afile/c: {T}/afile is a file, not a folder",)),
    Case("evaluate-results-dir-under-file", with_afile("evaluate", lambda t, d: write(t / "r.run", RUN), "--task", "biology",
                                                       "--data-dir", lambda t, d: d, "--results-dir", lambda t, d: t / "afile" / "r"),
         expect=(f"--results-dir {T}/afile/r: {T}/afile is a file, not a folder",)),
    Case("matrix-config-garbage", lambda tmp, data, run: ["matrix", "--config", write(tmp / "exp.toml", GARBAGE)],
         expect=(f"{T}/exp.toml:1", "not UTF-8 text")),
    Case("matrix-config-is-a-directory", lambda tmp, data, run: ["matrix", "--config", tmp],
         expect=(f"{T}: is a directory, expected an experiment TOML file",)),
    Case("run-option-misspelt", lambda tmp, data, run: ["run", "--tasks", "biology", "--data-dir", data, "--results-dir", tmp / "r",
                                                        "--retriever-args", "k=1.2"],
         expect=("retriever 'bm25' has no option 'k'", "Did you mean: k1")),
    # -- other input files ------------------------------------------------------------------------------
    Case("leaderboard-reported-file-garbage", lambda tmp, data, run: ["leaderboard", "--results-dir", tmp, "--reported",
                                                                      "--reported-file", write(tmp / "rep.tsv", b"\xff\xfe" * 40)],
         expect=(f"{T}/rep.tsv:1", "not UTF-8 text")),
    Case("leaderboard-reported-file-short-row", lambda tmp, data, run: [
        "leaderboard", "--results-dir", tmp, "--reported", "--reported-file",
        write(tmp / "rep.tsv", "source\tvia\trewriter\tretriever\ttask\tndcg@10\np\tq\toriginal\tbm25\tbiology\n")],
         expect=(f"{T}/rep.tsv:2", "field 'ndcg@10'", "finite number")),
    Case("train-grpo-config-is-a-directory", lambda tmp, data, run: ["train", "grpo", "--config", tmp],
         expect=(f"{T}: is a directory, expected a YAML training config",)),
]


@pytest.fixture
def bad_env(tmp_path, tiny_bright, monkeypatch, capsys):
    data = tmp_path / "data"
    shutil.copytree(tiny_bright, data)
    monkeypatch.setenv("BRIGHT_EVAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("BRIGHT_EVAL_DEVICE", "cpu")
    monkeypatch.delenv("BRIGHT_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    return data, lambda *args: invoke(monkeypatch, capsys, *args)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_bad_input(case, bad_env, tmp_path, caplog):
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


# -- the same guards below the CLI ------------------------------------------------------------------------
def test_evaluate_run_rejects_nan_naming_the_query():
    exs = [Example("q1", "text", ["a"]), Example("q2", "text", ["b"], excluded_ids=["x"])]
    with pytest.raises(BrightEvalError, match="query 'q1': field 'score' of doc 'b' is nan"):
        evaluate_run({"q1": {"a": 1.0, "b": math.nan}}, exs)
    # -inf marks an excluded document, as BRIGHT does; it is dropped before scoring.
    assert evaluate_run({"q2": {"b": 1.0, "x": -math.inf}}, exs)["q2"]["ndcg@10"] == 1.0


def test_writable_checks(tmp_path):
    (tmp_path / "f").write_text("x")
    assert check_writable_dir(tmp_path / "new" / "deeper", "--results-dir") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # checks only, creates nothing
    with pytest.raises(BrightEvalError, match=r"--cache-dir .*/f/sub: .*/f is a file, not a folder"):
        check_writable_dir(tmp_path / "f" / "sub", "--cache-dir")
    with pytest.raises(BrightEvalError, match=r"--results-dir .*/f: it is a file"):
        check_writable_dir(tmp_path / "f", "--results-dir")
    assert check_writable_file(tmp_path / "f", "-o") == tmp_path / "f"
    with pytest.raises(BrightEvalError, match="is a folder, expected a file name"):
        check_writable_file(tmp_path, "-o")


@pytest.mark.skipif(not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() == 0,
                    reason="root may write anywhere")
def test_unwritable_folder_is_named(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    with pytest.raises(BrightEvalError, match=r"--out .*/ro/x: .*/ro is not writable"):
        check_writable_dir(ro / "x", "--out")


def test_warnings_reach_the_terminal(tmp_path, tiny_bright):
    """In a real process (not in-process logging capture), the warning with its count is on stderr and
    the command still succeeds."""
    import os
    import subprocess

    run_file = write(tmp_path / "r.run", RUN + "0 Q0 insects_light/Phototaxis_0.txt 1 2.5 t\n")
    env = {**os.environ, "COLUMNS": "300", "BRIGHT_EVAL_NO_PROGRESS": "1"}
    res = subprocess.run([sys.executable, "-c", "from bright_eval.cli import main; main()", "evaluate", str(run_file),
                          "--task", "biology", "--data-dir", str(tiny_bright), "--format", "json"],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 0 and "Traceback" not in res.stderr
    assert "1 line(s) repeat an earlier (qid, docid) line with the same score" in res.stderr
    assert json.loads(res.stdout)["biology"]["ndcg@10"] > 0
