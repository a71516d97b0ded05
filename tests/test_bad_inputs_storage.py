"""Where results go, as a user types it: every command that reads or writes results takes the same
location (a folder or an fsspec URL); a location an executor cannot share is refused before any work;
a full disk or a refused write is one line naming the path, and nothing half-written is reused."""

from __future__ import annotations

import errno
import json
import os
import sys
import uuid
from pathlib import Path

import pytest
from cli_invoke import invoke

from bright_eval import io as bio
from bright_eval import storage
from bright_eval.cli import main

fsspec = pytest.importorskip("fsspec")




def one_line_error(code: int, err: str, *expect: str) -> None:
    assert code == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    for text in expect:
        assert text in lines[0], (text, lines[0])


@pytest.fixture
def run(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)  # a URL taken for a folder would appear here as 's3:' or 'memory:'
    return lambda *args: invoke(monkeypatch, capsys, *args)


def biology(data, results, *extra):
    return ["run", "--tasks", "biology", "--data-dir", data, "--results-dir", results, "--format", "json", *extra]


def no_url_folders(tmp_path: Path) -> None:
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(":")]


# -- every command takes the same location type ---------------------------------------------------------
def test_run_leaderboard_report_evaluate_on_memory_url(run, tiny_bright, tmp_path):
    url = f"memory://bright-{uuid.uuid4().hex}/runs"
    code, out, err = run(*biology(tiny_bright, url))
    assert code == 0, err
    no_url_folders(tmp_path)
    written = storage.location(url)
    assert [p.name for p in written.rglob("*.json")] == ["biology.json"]
    # Read back through the same URL: reuse, then the leaderboard and the report.
    code, out2, err = run(*biology(tiny_bright, url))
    assert code == 0 and json.loads(out2) == json.loads(out), err
    code, out, err = run("leaderboard", "--results-dir", url, "--format", "json")
    assert code == 0, err
    assert [r["rewriter"] for r in json.loads(out)["rows"]] == ["original"]
    code, out, err = run("report", "--results-dir", url, "--format", "json", "--out", tmp_path / "rep", "--no-html", "--rounds", "100")
    one_line_error(code, err, "systems found: original + bm25")  # read from the URL; one system has nothing to compare
    # evaluate writes its record there too.
    run_file = tmp_path / "r.run"
    run_file.write_text("0 Q0 insects_light/Phototaxis_0.txt 1 2.5 t\n")
    code, out, err = run("evaluate", run_file, "--task", "biology", "--data-dir", tiny_bright, "--results-dir", url + "/ext",
                         "--format", "json")
    assert code == 0, err
    assert len(list((written / "ext").rglob("*.json"))) == 1
    no_url_folders(tmp_path)


def test_run_on_s3(run, s3_server, tiny_bright, tmp_path):
    url = f"{s3_server}/runs"
    code, out, err = run(*biology(tiny_bright, url))
    assert code == 0, err
    no_url_folders(tmp_path)
    fs = fsspec.filesystem("s3")
    assert sorted(p.rsplit("/", 1)[-1] for p in fs.find("bright-results/runs")) == ["biology.json", "biology.run.gz", "matrix-runs.jsonl"]
    code, out, err = run("leaderboard", "--results-dir", url, "--format", "json")
    assert code == 0 and json.loads(out)["rows"], err


@pytest.mark.parametrize("args, expect", [
    (["leaderboard", "--results-dir", "memory://nothing-here/runs"], ("memory://nothing-here/runs", "does not exist")),
    (["report", "--results-dir", "memory://nothing-here/runs"], ("memory://nothing-here/runs", "does not exist")),
    (["leaderboard", "--results-dir", "://runs"], ("--results-dir", "is not a URL scheme")),
    (["leaderboard", "--results-dir", "nosuchproto://b/runs"], ("--results-dir", "nosuchproto://")),
], ids=["leaderboard-missing-url", "report-missing-url", "empty-scheme", "unknown-scheme"])
def test_bad_locations_are_one_line(run, args, expect):
    one_line_error(*run(*args)[::2], *expect)


def test_memory_url_with_ray_is_refused_before_work(run, tiny_bright, tmp_path, monkeypatch):
    import bright_eval.cli.matrix as cli_matrix

    def no_work(*a, **k):
        raise AssertionError("work started")

    monkeypatch.setattr("bright_eval.data.get_source", no_work)
    monkeypatch.setattr(cli_matrix, "_executor", no_work)
    code, _, err = run("matrix", "--rewriters", "original", "--retrievers", "bm25", "--tasks", "biology", "--data-dir", tiny_bright,
                       "--results-dir", "memory://runs", "--executor", "ray")
    one_line_error(code, err, "--results-dir memory://runs", "--executor ray")


# -- full disks and refused writes -----------------------------------------------------------------------
@pytest.mark.parametrize("failure, words", [
    (OSError(errno.ENOSPC, "No space left on device"), "disk full"),
    (PermissionError(errno.EACCES, "Permission denied"), "permission denied"),
], ids=["ENOSPC", "EACCES"])
def test_a_refused_write_is_one_line_and_nothing_half_written_is_reused(run, tiny_bright, tmp_path, monkeypatch, failure, words):
    results = tmp_path / "res"
    real_fdopen = os.fdopen

    class _Writer:  # the temporary file exists; its contents never arrive
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            raise failure

    monkeypatch.setattr(bio.os, "fdopen", lambda fd, mode="r", *a, **k: _Writer(real_fdopen(fd, mode, *a, **k)))
    code, out, err = run(*biology(tiny_bright, results))
    one_line_error(code, err, words, str(results))
    assert out == ""
    left = [p for p in results.rglob("*") if p.is_file() and p.name != "matrix-runs.jsonl"]
    assert left == [], left  # no temporary file and no half a result
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BRIGHT_EVAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("BRIGHT_EVAL_NO_PROGRESS", "1")
    code, out, err = run(*biology(tiny_bright, results))
    assert code == 0, err
    assert "biology" in json.loads(out)
    log = [json.loads(ln) for ln in (results / "matrix-runs.jsonl").read_text().splitlines()]
    assert [line["counts"]["done"] for line in log] == [0, 1]  # computed again, not reused


def test_full_disk_on_a_url_is_one_clear_error(monkeypatch):
    place = storage.location(f"memory://bright-{uuid.uuid4().hex}/runs") / "x.json"

    def full(self, path, value, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(type(place.fs), "pipe_file", full)
    with pytest.raises(OSError, match=r"memory://.*/x.json: cannot write: disk full"):
        storage.write_json(place, {"v": 1})
    assert not place.exists()


# -- terminal output: user and system text is never taken for rich markup --------------------------------
def test_install_hint_keeps_its_extra(run, tiny_bright, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # not installed
    code, _, err = run("matrix", "--rewriters", "original", "--retrievers", "bm25", "--tasks", "biology", "--data-dir", tiny_bright,
                       "--results-dir", tmp_path / "res", "--executor", "ray")
    one_line_error(code, err, "pip install 'bright-eval[ray]'")


def test_leaderboard_rows_keep_their_settings_labels(run, tmp_path, monkeypatch):
    from bright_eval.record import ResultRecord
    from bright_eval.results import result_path, write_result

    monkeypatch.setenv("COLUMNS", "200")
    for depth, value in ((10, 0.5), (20, 0.6)):
        settings = {"top_k": 1000, "long_documents": False, "rerank_depth": depth, "rerank_query": "original"}
        rec = ResultRecord.build(identity={"d": depth}, task="biology", rewriter="original", retriever="bm25", reranker="ce[x]",
                                 settings=settings, metrics={"ndcg@10": value}, per_query={"q": {"ndcg@10": value}})
        write_result(result_path(tmp_path / "res", "original", "bm25", "biology", reranker="ce[x]", tag=rec.tag), rec)
    code, out, err = run("leaderboard", "--results-dir", tmp_path / "res", "--split-settings")
    assert code == 0, err
    assert "[rerank_depth=10]" in out and "[rerank_depth=20]" in out, out
    assert out.count("bm25 >> ce[x]") == 2, out


# -- `--format json` prints only JSON on stdout ------------------------------------------------------------
def test_json_format_with_ray_prints_only_json_on_stdout(tiny_bright, tmp_path, monkeypatch, capfd):
    """Ray workers, libraries and child processes write to stdout (file descriptor 1) while cells run."""
    import subprocess

    import bright_eval.cli.matrix as cli_matrix
    from bright_eval.execute import execute

    def noisy(name, address, resources):
        def run(plan, on_event=None):
            print("(pid=4242) worker: loading model")
            os.write(1, b"(raylet) a message from a worker process\n")
            subprocess.run([sys.executable, "-c", "print('a child process')"], check=True)
            return execute(plan)
        return run

    monkeypatch.setattr(cli_matrix, "_executor", noisy)
    monkeypatch.setattr(sys, "argv", ["bright-eval", "matrix", "--rewriters", "original", "--retrievers", "bm25", "--tasks", "biology",
                                      "--data-dir", str(tiny_bright), "--results-dir", str(tmp_path / "res"), "--executor", "ray",
                                      "--format", "json"])
    with pytest.raises(SystemExit) as exit_:
        main()
    out, err = capfd.readouterr()
    assert exit_.value.code in (0, None), err
    assert json.loads(out)["summary"]["done"] == 1
    assert "worker: loading model" in err and "a message from a worker process" in err and "a child process" in err
