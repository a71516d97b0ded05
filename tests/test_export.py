"""`bright-eval export` (MTEB results layout, QueryGym run summaries) and `leaderboard --mteb-results`,
on results made by the real CLI on tiny_bright."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import pytest

from bright_eval.results import load_results

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def results(cli_env, tmp_path):
    """`original` and an LLM rewriter (the 127.0.0.1 stub) with BRIGHT's BM25, made by `bright-eval run`."""
    pytest.importorskip("openai")
    sys.path.insert(0, str(Path(__file__).parent))
    from stub_openai import Server

    data, run = cli_env
    res = tmp_path / "res"
    code, _, err = run("run", "-r", "original", "-m", "bm25", "--data-dir", data, "-t", "biology,pony", "--results-dir", res)
    assert code == 0, err
    srv = Server()
    try:
        code, _, err = run("run", "-r", "openai:stub", "--base-url", srv.url, "-m", "bm25", "--data-dir", data, "-t", "biology",
                           "--results-dir", res)
    finally:
        srv.httpd.shutdown()
    assert code == 0, err
    return res, run


def _by(res: Path) -> dict[tuple[str, str], object]:
    return {(r.rewriter.split("(")[0], r.task): r for r in load_results(res)}


def test_mteb_export_layout_and_scores(results, tmp_path):
    res, run = results
    out = tmp_path / "mteb"
    code, _, err = run("export", "--format", "mteb", "--results-dir", res, "--out", out, "-r", "original")
    assert code == 0, err
    (task_file,) = (out / "results").glob("*/*/BrightRetrieval.json")
    assert task_file.parent.parent.name == "bright-eval__original+bm25"
    meta = json.loads((task_file.parent / "model_meta.json").read_text())
    assert meta["name"] == "bright-eval/original+bm25" and meta["revision"] == task_file.parent.name
    obj = json.loads(task_file.read_text())
    assert obj["task_name"] == "BrightRetrieval" and set(obj["scores"]) == {"standard"}
    recs = _by(res)
    for entry in obj["scores"]["standard"]:
        rec = recs[("original", entry["hf_subset"])]
        assert entry["main_score"] == entry["ndcg_at_10"] == rec.metrics["ndcg@10"]
        assert entry["recall_at_100"] == rec.metrics["recall@100"] and entry["map_at_1000"] == rec.metrics["map"]
        assert entry["precision_at_5"] == rec.metrics["p@5"] and entry["mrr_at_10"] == rec.metrics["mrr@10"]
        assert entry["languages"] == ["eng-Latn"]
    assert sorted(e["hf_subset"] for e in obj["scores"]["standard"]) == ["biology", "pony"]
    # the same records give the same files (the revision is the configuration's hash, not a clock)
    before = task_file.read_bytes()
    assert run("export", "--format", "mteb", "--results-dir", res, "--out", out, "-r", "original")[0] == 0
    assert task_file.read_bytes() == before


def test_mteb_export_loads_with_mtebs_own_loader(results, tmp_path):
    mteb = pytest.importorskip("mteb")
    res, run = results
    out = tmp_path / "mteb"
    assert run("export", "--format", "mteb", "--results-dir", res, "--out", out)[0] == 0
    loaded = mteb.ResultCache(cache_path=out).load_results(tasks=["BrightRetrieval"], include_remote=False, require_model_meta=True)
    got = {}
    for model in loaded.model_results:
        for tr in model.task_results:
            for entry in tr.scores["standard"]:
                if entry["main_score"] == entry["main_score"]:  # MTEB fills subsets it lacks with NaN
                    got[(model.model_name, entry["hf_subset"])] = entry["main_score"]
    recs = _by(res)
    assert got == {("bright-eval/original+bm25", "biology"): recs[("original", "biology")].metrics["ndcg@10"],
                   ("bright-eval/original+bm25", "pony"): recs[("original", "pony")].metrics["ndcg@10"],
                   (next(m for m, _ in got if "stub" in m), "biology"): recs[("openai:stub", "biology")].metrics["ndcg@10"]}


def test_mteb_export_matches_mtebs_documented_schema(results, tmp_path):
    """Without mteb installed: the fields TaskResult requires (task_result.py:169-176, 260-267)."""
    res, run = results
    out = tmp_path / "mteb"
    assert run("export", "--format", "mteb", "--results-dir", res, "--out", out)[0] == 0
    files = sorted((out / "results").glob("*/*/BrightRetrieval.json"))
    assert len(files) == 2
    for f in files:
        obj = json.loads(f.read_text())
        assert {"dataset_revision", "task_name", "mteb_version", "scores", "evaluation_time"} <= set(obj)
        assert isinstance(obj["dataset_revision"], str) and isinstance(obj["evaluation_time"], float)
        for entry in obj["scores"]["standard"]:
            assert isinstance(entry["hf_subset"], str) and isinstance(entry["languages"], list)
            assert isinstance(entry["main_score"], float)


def test_model_name_needs_one_system(results, tmp_path):
    res, run = results
    code, _, err = run("export", "--format", "mteb", "--results-dir", res, "--out", tmp_path / "o", "--model-name", "me/x")
    assert code == 2 and "--model-name names one model" in err and "2 systems" in err
    code, _, err = run("export", "--format", "mteb", "--results-dir", res, "--out", tmp_path / "o", "--model-name", "me/x",
                       "-r", "original", "--model-revision", "v1")
    assert code == 0, err
    assert (tmp_path / "o" / "results" / "me__x" / "v1" / "BrightRetrieval.json").is_file()


def test_querygym_export_validates_against_their_schema(results, tmp_path, caplog):
    import jsonschema

    from bright_eval.querygym_format import params_hash, run_id, schema

    res, run = results
    out = tmp_path / "qg"
    code, _, err = run("export", "--format", "querygym", "--results-dir", res, "--out", out)
    assert code == 0, err
    skipped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped:")]
    assert len(skipped) == 2 and all("rewriter 'original' calls no LLM" in m for m in skipped)  # the two `original` records
    assert any("retriever_id 'bm25-bright' is not in QueryGym's retriever_registry.yaml" in r.getMessage() for r in caplog.records)
    (summary,) = out.glob("bright-biology/tsqr/stub/bm25-bright/*.json")
    payload = json.loads(summary.read_text())
    jsonschema.validate(payload, schema())
    rec = _by(res)[("openai:stub", "biology")]
    assert payload["metrics"] == {"ndcg_cut_10": rec.metrics["ndcg@10"], "recall_100": rec.metrics["recall@100"],
                                  "recall_1000": rec.metrics["recall@1000"]}
    assert payload["config"]["retrieval"] == {"retriever_id": "bm25-bright", "paradigm": "lexical", "params": {"k1": 0.9, "b": 0.4},
                                              "implementation": "bright-eval:bm25"}
    llm = payload["config"]["llm_config"]
    assert llm["temperature"] == 0.7 and llm["max_tokens"] == 500
    assert payload["config"]["dataset_config"]["num_queries"] == 4
    # QueryGym's validate() recomputes both hashes (validate.py:223-245)
    p = payload["pipeline"]
    assert payload["params_hash"] == params_hash(p["method_id"], p["model"], payload["config"]["method_params"], llm)
    assert payload["run_id"] == run_id(payload) and summary.stem == payload["params_hash"]
    h = payload["params_hash"]
    assert payload["artifacts"] == {"run_file": f"{h}.run.txt", "reformulated_queries": f"{h}.queries.tsv"}
    run_path = Path(rec.path).parent / rec.run_file
    assert (summary.parent / f"{h}.run.txt").read_bytes() == gzip.decompress(run_path.read_bytes())
    lines = (summary.parent / f"{h}.queries.tsv").read_text().splitlines()
    assert [ln.split("\t")[0] for ln in lines] == list(rec.queries)
    assert lines[0].split("\t")[1] == " ".join(rec.queries[lines[0].split("\t")[0]]["rewritten"].split())


SHARED_QG = Path(__file__).resolve().parent.parent.parent / "shared" / "querygym"


def test_querygym_published_runs_pass_the_schema_and_our_hashes():
    """QueryGym's own BRIGHT run files validate against the vendored schema, and our params_hash/run_id
    give the values their emitter stored: the hashing is theirs, not a look-alike."""
    import jsonschema

    from bright_eval.querygym_format import params_hash, run_id, schema

    files = sorted(SHARED_QG.glob("bright-*/*/openai/gpt-4.1/bm25/*.json"))
    if not files:
        pytest.skip("shared/querygym (QueryGym's published BRIGHT runs) is not beside the repository")
    s = schema()
    for f in files:
        payload = json.loads(f.read_text())
        jsonschema.validate(payload, s)
        p, c = payload["pipeline"], payload["config"]
        assert params_hash(p["method_id"], p["model"], c["method_params"], c["llm_config"]) == payload["params_hash"] == f.stem
        assert run_id(payload) == payload["run_id"], f
    assert len(files) == 70
    bad = json.loads(files[0].read_text())
    bad["config"]["retrieval"]["paradigm"] = "hybrid"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, s)


def test_leaderboard_reads_mteb_published_files(tmp_path):
    from typer.testing import CliRunner

    from bright_eval.cli import app

    res = CliRunner().invoke(app, ["leaderboard", "--results-dir", str(tmp_path), "--mteb-results", str(FIXTURES / "mteb_results"),
                                   "--format", "json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    (row,) = obj["rows"]
    assert row["kind"] == "reported" and row["rewriter"] == "original" and row["retriever"] == "bm25"
    assert row["source"] == "MTEB results: bm25 (no_revision_available), BRIGHT 2024 numbers"
    assert row["scores"]["biology"] == pytest.approx(19.2) and row["scores"]["theoremqa_theorems"] == pytest.approx(4.8)
    assert row["average"] == pytest.approx(172.0 / 12)  # 14.3, BRIGHT's 2024 BM25 average


def test_leaderboard_reads_back_its_own_mteb_export(results, tmp_path):
    from bright_eval.scoreboard import build

    res, run = results
    out = tmp_path / "mteb"
    assert run("export", "--format", "mteb", "--results-dir", res, "--out", out, "-r", "original")[0] == 0
    lb = build(res, mteb_dir=out)
    measured = next(r for r in lb.rows if r.kind == "measured" and r.rewriter == "original")
    reported = next(r for r in lb.rows if r.kind == "reported")
    assert (reported.rewriter, reported.retriever) == ("original", "bm25")
    assert reported.scores == pytest.approx(measured.scores)
    # and another metric through MTEB's field names
    lb = build(res, metric="recall@100", mteb_dir=out)
    assert next(r for r in lb.rows if r.kind == "reported").scores == pytest.approx(
        next(r for r in lb.rows if r.kind == "measured" and r.rewriter == "original").scores)
