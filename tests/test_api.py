"""The Python API: stable public names, the CLI's numbers through the same plan/execute path, component
objects passed directly, data returned rather than printed."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import bright_eval as be

REPO = Path(__file__).resolve().parent.parent
# The public surface. Removing a name breaks users' code: this list changes only on purpose.
PUBLIC = ["run", "matrix", "evaluate", "load_results", "leaderboard", "report", "Results", "ResultRecord", "Query", "Rewriter",
          "Retriever", "Reranker", "RewriteStats", "TaskBound", "IndexCache", "RewriteCache", "Releasable", "HasStats",
          "BrightEvalError", "Registry", "LocalSource", "HubSource", "get_source", "Example", "Corpus", "ArtifactCache", "TASKS",
          "RETRIEVERS", "REWRITERS", "RERANKERS", "__version__"]


def test_every_public_name_is_exported_and_importable():
    assert sorted(PUBLIC) == sorted(be.__all__)
    for name in PUBLIC:
        assert getattr(be, name) is not None, name
    # the API functions are functions even after the modules of the same concern are imported
    import bright_eval.ablation_report  # noqa: F401
    import bright_eval.experiment  # noqa: F401
    import bright_eval.scoreboard  # noqa: F401

    assert callable(be.matrix) and callable(be.report) and callable(be.leaderboard)


def test_importing_the_package_stays_cheap():
    code = "import sys, bright_eval; print(sorted(m for m in ('pandas', 'pydantic', 'numpy', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_docs_example_runs_and_gives_the_cli_numbers(tiny_bright, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    ex = subprocess.run([sys.executable, str(REPO / "docs" / "examples" / "api_quickstart.py"), str(tiny_bright), str(tmp_path / "api")],
                        capture_output=True, text=True, env=env, cwd=tmp_path)
    assert ex.returncode == 0, ex.stderr
    assert "title-overlap" in ex.stdout and "comparisons against original + bm25" in ex.stdout
    cli = subprocess.run([sys.executable, "-c", "from bright_eval.cli import main; main()", "run", "--retriever", "bm25(k1=1.2)",
                          "--tasks", "biology,pony", "--data-dir", str(tiny_bright), "--results-dir", str(tmp_path / "cli"),
                          "--cache-dir", str(tmp_path / "cache"), "--format", "json"], capture_output=True, text=True, env=env)
    assert cli.returncode == 0, cli.stderr
    api = {r.task: r.metrics for r in be.load_results(tmp_path / "api" / "runs") if r.retriever == "bm25(k1=1.2)"}
    assert api == json.loads(cli.stdout)


class Constant:
    """Scores one document 1.0 for every query."""

    def __init__(self, doc: str, name: str | None = "constant"):
        self.doc, self.name = doc, name

    def spec(self):
        return {"name": "constant", "doc": self.doc}

    def index(self, corpus):
        pass

    def search(self, queries, k=1000, exclude=None):
        return {q: {self.doc: 1.0} for q in queries}


def test_a_component_object_is_planned_reused_and_recorded_like_a_registered_one(tiny_bright, tmp_path):
    kw = dict(tasks="biology", data_dir=tiny_bright, results_dir=tmp_path / "r", cache_dir=tmp_path / "c")
    first = be.run(retriever=Constant("insects_light/Phototaxis_0.txt"), **kw)
    assert [c.status for c in first.cells] == ["done"]
    again = be.run(retriever=Constant("insects_light/Phototaxis_0.txt"), **kw)
    assert [c.status for c in again.cells] == ["reused"]
    changed = be.run(retriever=Constant("plants/Chlorophyll_0.txt"), **kw)  # its spec() changed: recomputed
    assert [c.status for c in changed.cells] == ["done"]
    [rec] = be.load_results(tmp_path / "r")
    assert rec.retriever == "constant" and rec.identity["retriever"] == {"name": "constant", "doc": "plants/Chlorophyll_0.txt"}
    frame = changed.to_pandas()
    assert list(frame.columns[:6]) == ["rewriter", "retriever", "reranker", "task", "settings", "status"]
    assert frame.loc[0, "ndcg@10"] == rec.metrics["ndcg@10"]
    assert len(changed.to_pandas(per_query=True)) == len(rec.per_query)


def test_an_object_that_is_not_a_component_is_one_clear_error(tiny_bright, tmp_path):
    class NotARetriever:
        name = "nope"

        def spec(self):
            return {"name": "nope"}

    with pytest.raises(be.BrightEvalError, match="NotARetriever does not implement the Retriever protocol"):
        be.run(retriever=NotARetriever(), tasks="biology", data_dir=tiny_bright, results_dir=tmp_path / "r")


def test_evaluate_scores_a_run_dict(tiny_bright):
    out = be.evaluate({"0": {"insects_light/Phototaxis_0.txt": 1.0}}, "biology", data_dir=tiny_bright)
    assert 0 < out["metrics"]["ndcg@10"] <= 1 and "0" in out["per_query"]
    with pytest.raises(be.BrightEvalError, match="none of the run's 1 query ids"):
        be.evaluate({"zzz": {"a": 1.0}}, "biology", data_dir=tiny_bright)


def test_leaderboard_says_when_records_come_from_different_environments(tiny_bright, tmp_path, caplog):
    be.run(tasks="biology,pony", data_dir=tiny_bright, results_dir=tmp_path / "r", cache_dir=tmp_path / "c")
    path = next((tmp_path / "r").rglob("pony.json"))
    rec = json.loads(path.read_text())
    rec["environment"]["versions"]["numpy"] = "0.0.1"
    path.write_text(json.dumps(rec))
    with caplog.at_level(logging.WARNING):
        board = be.leaderboard(tmp_path / "r")
    assert "different environments (numpy" in caplog.text and "0.0.1 (1 files)" in caplog.text
    assert board.to_pandas().loc[0, "retriever"] == "bm25"
