"""The one plan/execute path on small real-text data (a slice of the answer-retrieval proxy): shared
work is done once, a rerun does nothing (cache counters and rewriter calls say so), failures stay
in their cells, and reuse follows the inputs, not only the configuration."""

from __future__ import annotations

import json

import pytest

from bright_eval.cache import ArtifactCache
from bright_eval.data import LocalSource
from bright_eval.errors import BrightEvalError
from bright_eval.execute import RUN_LOG, execute
from bright_eval.experiment import build_request, read_config
from bright_eval.plan import make_plan
from bright_eval.results import result_path
from bright_eval.rewriters import REWRITERS

TASKS2 = ("biology", "economics")


def MatrixSpec(rewriters, retrievers, tasks, **settings):
    return build_request(rewriters, retrievers, tasks, **settings)


def run_matrix(request, source, results, cache, overwrite=False):
    return execute(make_plan(request, source, results, cache, overwrite))


def plan_matrix(request, source, results, cache):
    return make_plan(request, source, results, cache).cells

class Broken:
    name = "test-broken"

    def spec(self):
        return {"name": self.name}

    def rewrite(self, queries):
        raise RuntimeError("model server went away")


@pytest.fixture
def test_rewriters():
    REWRITERS.register("test-broken", "test only: always fails")(lambda: Broken())
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
    rec = json.loads(result_path(results, tsqr, "all-minilm-l6-v2", "biology", tag="top_k=100").read_text())
    qid = next(iter(rec["queries"]))
    assert rec["queries"][qid]["rewritten"] != rec["queries"][qid]["original"]
    assert all(0.0 <= c.ndcg10 <= 1.0 for c in cells)

    rerun = ArtifactCache(cache_root)
    cells2 = run_matrix(spec, source, results, rerun)
    assert [c.status for c in cells2] == ["reused"] * 8
    assert rerun.builds == {} and rerun.hits == {}  # not even a cache read: nothing was indexed or encoded
    assert len(rewrite_calls) == 4  # the published rewrites are read again (they are part of the identity), nothing generated
    assert [c.ndcg10 for c in cells2] == [c.ndcg10 for c in cells]

    # One lost cell: only it is recomputed, from the cached index and embeddings.
    result_path(results, "original", "all-minilm-l6-v2", "economics", tag="top_k=100").unlink()
    plan = plan_matrix(spec, source, results, ArtifactCache(cache_root))
    todo = [c for c in plan if c.status != "reuse"]
    assert [(c.task, c.rewriter, c.retriever, c.index_cached, c.reason) for c in todo] == [
        ("economics", "original", "all-minilm-l6-v2", True, "new")]
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
    assert line["counts"] == {"done": 1, "reused": 0, "failed": 1, "blocked": 0}
    assert line["failed"][0]["rewriter"] == "test-broken"


def test_unknown_names_and_options_fail_before_any_work(data, tmp_path):
    spec = MatrixSpec(["original"], ["bm25", "bm52"], "biology", top_k=20)
    with pytest.raises(BrightEvalError, match="unknown retriever 'bm52'.*Did you mean: bm25"):
        run_matrix(spec, LocalSource(data), tmp_path / "r", ArtifactCache(tmp_path / "c"))
    spec = MatrixSpec(["original"], ["bm25(k=1.2)"], "biology", top_k=20)
    with pytest.raises(BrightEvalError, match="no option 'k'.*Did you mean: k1"):
        run_matrix(spec, LocalSource(data), tmp_path / "r", ArtifactCache(tmp_path / "c"))
    assert not (tmp_path / "r").exists()


def test_spec_validation():
    with pytest.raises(BrightEvalError, match="listed twice"):
        make_plan(MatrixSpec(["original", "original"], ["bm25"], "biology"), None, "r", ArtifactCache("c"))
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
    assert conf["retriever_args"] == {"bm25": {"k1": 1.2}}  # the schema-1 name still reads
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
    assert [(p["retriever"], p["status"], p["reason"]) for p in plan] == [("bm25", "compute", "new"), ("bm25-lucene", "compute", "new")]
    assert not (tmp_path / "r").exists()  # a dry run writes nothing
    res = runner.invoke(app, args + ["--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["summary"] == {"done": 2, "reused": 0, "failed": 0, "blocked": 0}
    res = runner.invoke(app, args + ["--format", "json"])
    assert json.loads(res.stdout)["summary"] == {"done": 0, "reused": 2, "failed": 0, "blocked": 0}


def test_a_finished_tasks_index_is_let_go_and_results_do_not_change(data, tmp_path):
    """Tasks run one after another; holding every task's index would make whole-BRIGHT peak at the
    sum of twelve indexes. Released or not, the numbers are the same."""
    spec = MatrixSpec(["original"], ["bm25", "fuse:rrf(bm25,bm25-lucene)"], ",".join(TASKS2), top_k=50)
    plan = make_plan(spec, LocalSource(data), tmp_path / "r", ArtifactCache(tmp_path / "c"))
    cells = execute(plan)
    assert all(c.status == "done" for c in cells)
    for task in TASKS2:
        bm25 = plan.bound[("bm25", task)]
        assert bm25.counts is None and "_postings" not in bm25.__dict__
        assert all(c.counts is None for c in plan.bound[("fuse:rrf(bm25,bm25-lucene)", task)].children)
    one = {(c.retriever, c.task): c.ndcg10 for c in cells}
    for task in TASKS2:  # each task alone, in a fresh plan
        alone = execute(make_plan(MatrixSpec(["original"], ["bm25", "fuse:rrf(bm25,bm25-lucene)"], task, top_k=50),
                                  LocalSource(data), tmp_path / f"alone-{task}", ArtifactCache(tmp_path / "c")))
        assert {(c.retriever, c.task): c.ndcg10 for c in alone} == {k: v for k, v in one.items() if k[1] == task}
