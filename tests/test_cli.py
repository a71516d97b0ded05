"""The CLI end to end on the answer-retrieval proxy: real BRIGHT questions, their real answers."""

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bright_eval.results import load_results
from bright_eval.trec import read_run

BIN = [sys.executable, "-c", "from bright_eval.cli import main; main()"]


def cli(*args, env=None, check=True):
    res = subprocess.run([*BIN, *map(str, args)], capture_output=True, text=True, env=env)
    if check and res.returncode != 0:
        raise AssertionError(f"exit {res.returncode}\nstdout:{res.stdout}\nstderr:{res.stderr}")
    return res


@pytest.fixture(scope="module")
def first_run(proxy_dir, tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    cache = tmp_path_factory.mktemp("cache")
    res = cli("run", "--rewriter", "original", "--retriever", "bm25", "--tasks", "biology,economics",
              "--data-dir", proxy_dir, "--results-dir", results, "--cache-dir", cache, "--format", "json")
    return results, cache, json.loads(res.stdout)


def test_run_prints_json_and_writes_results_with_provenance(first_run, proxy_dir):
    results, _, scores = first_run
    assert set(scores) == {"biology", "economics"}
    assert 0.2 < scores["biology"]["ndcg@10"] <= 1.0
    records = {r.task: r for r in load_results(results)}
    rec = records["biology"]
    assert rec.metrics["ndcg@10"] == pytest.approx(scores["biology"]["ndcg@10"])
    assert len(rec.per_query) == 103 and rec.data["n_docs"] == 749
    assert rec.identity["retriever"]["flavour"] == "bright" and rec.settings["top_k"] == 1000
    assert rec.environment["versions"]["pytrec-eval-terrier"]
    assert rec.data["source"].startswith("local:") and rec.data["documents_fingerprint"].startswith("file:")
    assert set(rec.timings) >= {"load_documents_s", "index_s", "rewrite_s", "search_s", "score_s", "write_s"}
    run = read_run(Path(rec.path).parent / rec.run_file)
    assert len(run) == 103 and all(len(d) == 749 for d in run.values())  # 749 docs < top-k: all ranked


def test_rerun_reuses_results_and_index(first_run, proxy_dir):
    results, cache, scores = first_run
    before = {p: p.stat().st_mtime_ns for p in results.rglob("*.json")}
    res = cli("run", "--tasks", "biology", "--data-dir", proxy_dir, "--results-dir", results, "--cache-dir", cache)
    assert "reused" in res.stderr
    assert {p: p.stat().st_mtime_ns for p in results.rglob("*.json")} == before
    assert len(list((cache / "bm25").iterdir())) == 1  # one corpus -> one cached analysis, shared by both tasks


def test_evaluate_scores_a_run_file_like_run(first_run, proxy_dir):
    results, _, scores = first_run
    run_file = next(results.rglob("biology.run.gz"))
    res = cli("evaluate", run_file, "--task", "biology", "--data-dir", proxy_dir, "--format", "json")
    assert json.loads(res.stdout)["biology"] == pytest.approx(scores["biology"])


def test_bm25_lucene_flavour_runs(proxy_dir, tmp_path):
    res = cli("run", "--retriever", "bm25-lucene", "--tasks", "biology", "--data-dir", proxy_dir,
              "--results-dir", tmp_path, "--format", "json")
    assert 0.2 < json.loads(res.stdout)["biology"]["ndcg@10"] <= 1.0


def test_data_export_mirrors_a_source(proxy_dir, tmp_path):
    cli("data", "export", "--to", tmp_path / "mirror", "--tasks", "biology", "--data-dir", proxy_dir)
    out = tmp_path / "mirror" / "biology"
    assert (out / "examples.jsonl").read_text() == (proxy_dir / "biology" / "examples.jsonl").read_text()
    with gzip.open(out / "documents.jsonl.gz", "rt") as fh:
        assert sum(1 for _ in fh) == 749
    assert (out / "qrels.txt").read_text() == (proxy_dir / "biology" / "qrels.txt").read_text()


@pytest.mark.parametrize("args, message", [
    (["run", "--tasks", "bilogy"], "unknown task 'bilogy'"),
    (["run", "--retriever", "bm52"], "unknown retriever 'bm52'"),
    (["run", "--rewriter", "nope"], "unknown rewriter 'nope'"),
    (["evaluate", "missing.run", "--task", "biology"], "missing.run: run file not found"),
])
def test_bad_input_is_one_clear_line(proxy_dir, tmp_path, args, message):
    res = cli(*args, "--data-dir", proxy_dir, "--results-dir", tmp_path, check=False)
    assert res.returncode == 2
    assert message in res.stderr and "Traceback" not in res.stderr


def test_missing_documents_tell_where_they_were_looked_for(shared_bright, tmp_path):
    res = cli("run", "--tasks", "pony", "--data-dir", shared_bright, "--results-dir", tmp_path, check=False)
    assert res.returncode == 2 and "no documents for task 'pony'" in res.stderr and "Traceback" not in res.stderr


def test_listings_name_every_component_with_its_options():
    res = cli("retrievers")
    assert "bm25" in res.stdout and "k1=0.9" in res.stdout and "fuse:<arg>" in res.stdout
    res = cli("rewriters")
    assert "tsqr-7b" in res.stdout and "decoding=released" in res.stdout
    assert cli("tasks").stdout.split() == ["biology", "earth_science", "economics", "psychology", "robotics", "stackoverflow",
                                           "sustainable_living", "leetcode", "pony", "aops", "theoremqa_questions", "theoremqa_theorems"]


def test_run_dry_run_prints_the_plan_and_writes_nothing(proxy_dir, tmp_path):
    res = cli("run", "--tasks", "biology", "--retriever-args", "k1=1.2", "--data-dir", proxy_dir, "--results-dir", tmp_path / "r",
              "--dry-run", "--format", "json")
    (cell,) = json.loads(res.stdout)["plan"]
    assert (cell["retriever"], cell["status"], cell["reason"]) == ("bm25(k1=1.2)", "compute", "new")
    assert not (tmp_path / "r").exists()
