"""Matrix runs on small real-text data (a slice of the answer-retrieval proxy): shared work is done
once, a rerun does nothing (cache counters and rewriter calls say so), failures stay in their cells."""

from __future__ import annotations

import json

import pytest

from bright_eval.cache import ArtifactCache
from bright_eval.data import LocalSource
from bright_eval.errors import BrightEvalError
from bright_eval.matrix import RUN_LOG, MatrixSpec, plan_matrix, read_config, run_matrix
from bright_eval.results import result_path
from bright_eval.rewriters import REWRITERS

TASKS2 = ("biology", "economics")





class Broken:
    name = "test-broken"

    def __init__(self, **_):
        pass

    def spec(self):
        return {"name": self.name}

    def rewrite(self, queries):
        raise RuntimeError("model server went away")


@pytest.fixture
def test_rewriters():
    REWRITERS.register("test-broken", "test only: always fails")(lambda **kw: Broken(**kw))
    yield
    REWRITERS._entries.pop("test-broken", None)


@pytest.fixture
def rewrite_calls(monkeypatch):
    """Counts calls of the real `bright:` rewriter (the published TongSearch-QR rewrites)."""
    from bright_eval.rewriters.precomputed import BrightReasoning

    calls = []
    real = BrightReasoning.rewrite

    def counted(self, queries):
        calls.append((self.name, queries[0].task))
        return real(self, queries)

    monkeypatch.setattr(BrightReasoning, "rewrite", counted)
    return calls


@pytest.fixture(scope="module")
def data(make_proxy, tmp_path_factory):
    return make_proxy(tmp_path_factory.mktemp("proxy"), 15, TASKS2)


@pytest.mark.slow
def test_matrix_end_to_end_then_rerun_does_no_work(data, tmp_path, rewrite_calls):
    tsqr = "bright:TongSearch-QR-1.5B"
    spec = MatrixSpec(["original", tsqr], ["bm25", "all-minilm-l6-v2"], ",".join(TASKS2), top_k=100)
    source, results, cache_root = LocalSource(data), tmp_path / "results", tmp_path / "cache"

    cache = ArtifactCache(cache_root)
    cells = run_matrix(spec, source, results, cache)
    assert [c.status for c in cells] == ["done"] * 8, [c.error for c in cells]
    assert len(list(results.rglob("*.json"))) == 8
    # The proxy pool is the same corpus for both tasks: one build per retriever, reused by the second task.
    assert cache.builds == {"bm25": 1, "embeddings": 1} and cache.hits == {"bm25": 1, "embeddings": 1}
    assert rewrite_calls == [(tsqr, "biology"), (tsqr, "economics")]  # once per task, shared by both retrievers
    rec = json.loads(result_path(results, tsqr, "all-minilm-l6-v2", "biology").read_text())
    qid = next(iter(rec["queries"]))
    assert rec["queries"][qid]["rewritten"] != rec["queries"][qid]["original"]
    assert all(0.0 <= c.ndcg10 <= 1.0 for c in cells)

    rerun = ArtifactCache(cache_root)
    cells2 = run_matrix(spec, source, results, rerun)
    assert [c.status for c in cells2] == ["reused"] * 8
    assert rerun.builds == {} and rerun.hits == {}  # not even a cache read: nothing was indexed or encoded
    assert len(rewrite_calls) == 2
    assert [c.ndcg10 for c in cells2] == [c.ndcg10 for c in cells]

    # One lost cell: only it is recomputed, from the cached index and embeddings.
    result_path(results, "original", "all-minilm-l6-v2", "economics").unlink()
    plan = plan_matrix(spec, source, results, ArtifactCache(cache_root))
    todo = [r for r in plan if r["results"] != "reuse"]
    assert [(r["task"], r["rewriter"], r["retriever"], r["index"]) for r in todo] == [("economics", "original", "all-minilm-l6-v2", True)]
    third = ArtifactCache(cache_root)
    cells3 = run_matrix(spec, source, results, third)
    assert sorted(c.status for c in cells3) == ["done"] + ["reused"] * 7
    assert third.builds == {} and third.hits == {"embeddings": 1}
    log_lines = (results / RUN_LOG).read_text().splitlines()
    assert [json.loads(line)["counts"]["done"] for line in log_lines] == [8, 0, 1]


def test_failed_cell_is_reported_and_others_go_on(data, tmp_path, test_rewriters):
    spec = MatrixSpec(["test-broken", "original"], ["bm25"], "biology", top_k=50)
    cells = run_matrix(spec, LocalSource(data), tmp_path / "r", ArtifactCache(tmp_path / "c"))
    by = {c.rewriter: c for c in cells}
    assert by["test-broken"].status == "failed" and "model server went away" in by["test-broken"].error
    assert by["original"].status == "done"
    line = json.loads((tmp_path / "r" / RUN_LOG).read_text())
    assert line["counts"] == {"done": 1, "reused": 0, "failed": 1}
    assert line["failed"][0]["rewriter"] == "test-broken"


def test_unknown_names_fail_their_cells_only(data, tmp_path):
    spec = MatrixSpec(["original"], ["bm25", "no-such-retriever"], "biology", top_k=20)
    cells = run_matrix(spec, LocalSource(data), tmp_path / "r", ArtifactCache(tmp_path / "c"))
    status = {c.retriever: c for c in cells}
    assert status["bm25"].status == "done"
    assert status["no-such-retriever"].status == "failed" and "unknown retriever" in status["no-such-retriever"].error


def test_spec_validation():
    with pytest.raises(BrightEvalError, match="listed twice"):
        MatrixSpec(["original", "original"], ["bm25"], "biology")
    with pytest.raises(BrightEvalError, match="unknown task"):
        MatrixSpec(["original"], ["bm25"], "biologyy")
    with pytest.raises(BrightEvalError, match="at least one"):
        MatrixSpec([], ["bm25"], "biology")


def test_config_file(tmp_path):
    cfg = tmp_path / "exp" / "experiment.toml"
    cfg.parent.mkdir()
    cfg.write_text('[matrix]\nrewriters = ["original"]\nretrievers = "bm25, bm25-lucene"\ntasks = "biology"\n'
                   'data_dir = "../data"\n[matrix.retriever_options.bm25]\nk1 = 1.2\n')
    conf = read_config(cfg)
    assert conf["retrievers"] == ["bm25", "bm25-lucene"]
    assert conf["data_dir"] == (tmp_path / "data").resolve()
    assert conf["retriever_options"] == {"bm25": {"k1": 1.2}}
    bad = tmp_path / "bad.toml"
    bad.write_text("[matrix]\nrewriter = ['original']\n")
    with pytest.raises(BrightEvalError, match="unknown key.*rewriter"):
        read_config(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("[matrix\n")
    with pytest.raises(BrightEvalError, match="not valid TOML"):
        read_config(broken)


def test_cli_dry_run_and_run(data, tmp_path):
    from typer.testing import CliRunner

    from bright_eval.cli import app

    args = ["matrix", "--rewriters", "original", "--retrievers", "bm25,bm25-lucene", "--tasks", "biology",
            "--data-dir", str(data), "--results-dir", str(tmp_path / "r"), "--cache-dir", str(tmp_path / "c"), "--top-k", "50"]
    runner = CliRunner()
    res = runner.invoke(app, args + ["--dry-run", "--format", "json"])
    assert res.exit_code == 0, res.output
    plan = json.loads(res.stdout)["plan"]
    assert [(p["retriever"], p["results"]) for p in plan] == [("bm25", "run"), ("bm25-lucene", "run")]
    assert not (tmp_path / "r").exists()  # a dry run writes nothing
    res = runner.invoke(app, args + ["--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["summary"] == {"done": 2, "reused": 0, "failed": 0}
    res = runner.invoke(app, args + ["--format", "json"])
    assert json.loads(res.stdout)["summary"] == {"done": 0, "reused": 2, "failed": 0}
