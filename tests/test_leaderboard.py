"""Leaderboard tables hold exactly the numbers of the results files; reported rows and their twins;
bad files in the results folder are named and skipped."""

from __future__ import annotations

import csv
import io
import json
import logging
import re

import pytest

from bright_eval.cache import ArtifactCache
from bright_eval.data import LocalSource
from bright_eval.execute import execute
from bright_eval.experiment import build_request
from bright_eval.plan import make_plan
from bright_eval.results import SCHEMA
from bright_eval.retrievers import RETRIEVERS
from bright_eval.scoreboard import Row, bright_sizes, build, is_twin, load_aliases, load_reported, render, to_csv, to_latex, to_markdown
from bright_eval.tasks import TASKS


@pytest.fixture(scope="module")
def results(make_proxy, tmp_path_factory):
    """Real results: BM25 flavours on a slice of the answer-retrieval proxy."""
    data = tmp_path_factory.mktemp("data")
    make_proxy(data, 20, ("biology", "economics", "robotics"))
    out = tmp_path_factory.mktemp("results")
    request = build_request(["original"], ["bm25", "bm25-lucene"], "biology,economics,robotics")
    cells = execute(make_plan(request, LocalSource(data), out, ArtifactCache(tmp_path_factory.mktemp("cache"))))
    assert all(c.status == "done" for c in cells)
    return out


def _files(results_dir):
    recs = [json.loads(p.read_text()) for p in results_dir.rglob("*.json")]
    return {(r["rewriter"], r["retriever"], r["task"]): r["metrics"]["ndcg@10"] for r in recs}


def test_markdown_and_csv_hold_the_results_numbers(results):
    truth = _files(results)
    lb = build(results)
    assert lb.tasks == ["biology", "economics", "robotics"]  # BRIGHT's order
    rows = list(csv.DictReader(io.StringIO(to_csv(lb))))
    assert len(rows) == 2
    for row in rows:
        vals = [truth[(row["rewriter"], row["retriever"], t)] for t in lb.tasks]
        for t, v in zip(lb.tasks, vals):
            assert float(row[t]) == pytest.approx(100 * v, rel=1e-12)
        assert float(row["average"]) == pytest.approx(100 * sum(vals) / 3, rel=1e-12)
    md = to_markdown(lb, digits=2)
    for line in md.splitlines():
        m = re.match(r"\| (\S+) \| (\S+) \| measured[^|]* \| (.+) \|$", line)
        if not m:
            continue
        cells = [c.strip() for c in m.group(3).split("|")]
        vals = [truth[(m.group(1), m.group(2), t)] for t in lb.tasks]
        assert cells == [f"{100 * v:.2f}" for v in vals] + [f"{100 * sum(vals) / 3:.2f}"]
    assert md.count("| measured") == 2


def test_bad_files_are_named_and_skipped(results, tmp_path, caplog):
    import shutil

    folder = tmp_path / "r"
    shutil.copytree(results, folder)
    (folder / "corrupt.json").write_text('{"schema": "bright-eval.result/1", "task": ')
    (folder / "x" / "foreign.json").parent.mkdir()
    (folder / "x" / "foreign.json").write_text(json.dumps({"hello": "world"}))
    with caplog.at_level(logging.WARNING):
        lb = build(folder)
    assert "corrupt.json" in caplog.text and "foreign.json" in caplog.text
    assert len([r for r in lb.rows if r.kind == "measured"]) == 2

    from typer.testing import CliRunner

    from bright_eval.cli import app

    res = CliRunner().invoke(app, ["leaderboard", "--results-dir", str(folder), "--format", "csv"])
    assert res.exit_code == 0
    assert len(list(csv.DictReader(io.StringIO(res.stdout)))) == 2


def test_proxy_rows_are_not_compared_with_reported(results):
    lb = build(results, with_reported=True, reported_filter="Table 2")
    kinds = [r.kind for r in lb.rows]
    assert "delta" not in kinds and kinds.count("reported") == 13  # BRIGHT's Table 2 (2025 revision): 13 retrievers
    assert all(not r.comparable for r in lb.rows if r.kind == "measured")


def _record(task, rewriter, retriever, ndcg, n_docs):
    return {"schema": SCHEMA, "task": task, "rewriter": rewriter, "retriever": retriever, "metrics": {"ndcg@10": ndcg},
            "per_query": {"q1": {"ndcg@10": ndcg}}, "data": {"source": "local:x", "n_docs": n_docs}, "identity": {}}


def test_measured_minus_reported_twin(tmp_path):
    # Records shaped like results on BRIGHT's own corpora (document counts match).
    for task, v in (("biology", 0.2), ("economics", 0.15)):
        p = tmp_path / "bright_TongSearch-QR-7B" / "bm25" / f"{task}.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(_record(task, "bright:TongSearch-QR-7B", "bm25", v, bright_sizes(task, False)[0])))
        q = tmp_path / "original" / "bm25" / f"{task}.json"
        q.parent.mkdir(parents=True, exist_ok=True)
        q.write_text(json.dumps(_record(task, "original", "bm25", v / 2, bright_sizes(task, False)[0])))
    lb = build(tmp_path, with_reported=True)
    deltas = [r for r in lb.rows if r.kind == "delta"]
    orig = {d.source: d for d in deltas if d.rewriter == "original" and "2407.12883" in d.source}
    assert len(orig) == 2  # BRIGHT's 2024 numbers and the 2025 revision, each labelled
    new = next(d for s, d in orig.items() if "BRIGHT 2025 numbers" in s)
    old = next(d for s, d in orig.items() if "BRIGHT 2024 numbers" in s)
    assert new.scores["biology"] == pytest.approx(10.0 - 18.9) and old.scores["biology"] == pytest.approx(10.0 - 19.2)
    assert new.scores["economics"] == pytest.approx(7.5 - 14.9)
    # Anserini's query-side BM25 is bm25's other twin.
    assert any(d.rewriter == "original" and "Anserini" in d.source for d in deltas)
    # TongSearch-QR-7B: per-task values from its main table; the average is over the tasks shown.
    tsqr = [d for d in deltas if d.rewriter.startswith("bright:") and "2506.11603" in d.source]
    assert len(tsqr) == 1 and tsqr[0].scores["biology"] == pytest.approx(20.0 - 57.9)
    assert tsqr[0].scores["average"] == pytest.approx((20.0 + 15.0) / 2 - (57.9 + 21.9) / 2)
    md = to_markdown(lb)
    assert "Δ vs [" in md and "reported [" in md
    latex = to_latex(lb)
    assert r"$\Delta$ vs [" in latex and "Δ" not in latex.split("% [")[0]
    lb.rows[0].rewriter = "file:my_rewrites&co"
    assert r"file:my\_rewrites\&co" in to_latex(lb)
    assert json.loads(render(lb, "json"))["rows"][0]["kind"] == "measured"


def test_reported_table_is_well_formed():
    rows = load_reported()
    bm25 = {r.source: r for r in rows if r.retriever == "BM25" and r.rewriter == "original" and "Table 2" in r.source}
    assert len(bm25) == 1
    (label, row), = bm25.items()
    assert "BRIGHT 2025 numbers" in label and list(row.scores) == list(TASKS)
    assert round(row.average(list(TASKS)), 1) == 14.5  # BRIGHT's published BM25 average (2025 revision)
    assert all(r.source and r.via for r in rows)
    aliases = load_aliases()
    registry = {e.name for e in RETRIEVERS.entries()}
    for patterns in aliases["retriever"].values():
        for p in patterns:
            assert p in registry, p
    # API models and models this project does not wrap have no measured twin.
    no_twin = {"GritLM", "Cohere", "OpenAI", "Voyage", "Google", "Seed1.5-Embedding", "Anserini SPLADE-v3",
               "Anserini SPLADE-v3 (cached queries)", "Anserini BGE (cached queries)"}
    for r in rows:
        assert r.retriever in aliases["retriever"] or r.retriever in no_twin, r.retriever


def test_twin_patterns():
    aliases = load_aliases()
    rep = Row("TongSearch-QR-7B", "BM25", "reported", {})
    for name in ("bright:TongSearch-QR-7B", "file:/data/TongSearch-QR-7B.jsonl", "tsqr-7b"):
        assert is_twin(Row(name, "bm25", "measured", {}), rep, aliases)
    assert not is_twin(Row("tsqr-1.5b", "bm25", "measured", {}), rep, aliases)
    assert not is_twin(Row("tsqr-7b", "bm25-lucene", "measured", {}), rep, aliases)


def test_cli_formats(results, tmp_path):
    from typer.testing import CliRunner

    from bright_eval.cli import app

    runner = CliRunner()
    for fmt in ("markdown", "latex", "json", "csv"):
        res = runner.invoke(app, ["leaderboard", "--results-dir", str(results), "--format", fmt, "-o", str(tmp_path / f"lb.{fmt}")])
        assert res.exit_code == 0, res.output
        assert (tmp_path / f"lb.{fmt}").read_text().strip()
    res = runner.invoke(app, ["leaderboard", "--results-dir", str(results), "--format", "html"])
    assert res.exit_code != 0
    res = runner.invoke(app, ["leaderboard", "--results-dir", str(tmp_path / "missing")])
    assert res.exit_code != 0
