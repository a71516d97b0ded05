"""`bright-eval reproduce`: the verdict logic, the published rows and where their numbers come from
(every value of reported.tsv traced to shared/reference/paper-tables.md or Anserini's table), what a
machine without documents or a GPU skips, and honest verdicts on the answer-retrieval proxy."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bright_eval.data import LocalSource
from bright_eval.errors import BrightEvalError
from bright_eval.reproduce import FAIL, OK, OKISH, SKIP, UNVERIFIED, AnseriniProtocol, Machine, Row, compare, load_rows, plan, verdict, worst
from bright_eval.scoreboard import load_reported
from bright_eval.tasks import TASKS

NO_GPU = Machine(gpu=False, env=frozenset())


# -- verdicts --------------------------------------------------------------------------------------
def test_verdict_bands():
    assert verdict(18.95, 18.9, 0.1) == OK
    assert verdict(19.0, 18.9, 0.1) == OK  # the edge is inside (float noise absorbed)
    assert verdict(18.8, 18.9, 0.1) == OK
    assert verdict(19.05, 18.9, 0.1) == OKISH  # within 2 x tolerance
    assert verdict(19.1, 18.9, 0.1) == OKISH
    assert verdict(19.11, 18.9, 0.1) == FAIL
    assert verdict(17.0, 18.9, 0.1) == FAIL
    assert verdict(19.3, 18.9, 0.1, okish=0.5) == OKISH  # a row's stated band
    assert verdict(19.4, 18.9, 0.1, okish=0.5) == OKISH
    assert verdict(19.5, 18.9, 0.1, okish=0.5) == FAIL
    assert verdict(None, 18.9, 0.1) == SKIP
    assert verdict(18.2401, 18.24, 0.01) == OK and verdict(18.2601, 18.24, 0.01) == FAIL


def test_worst_is_the_row_verdict():
    assert worst([OK, OKISH, OK]) == OKISH
    assert worst([OK, SKIP, FAIL, OKISH]) == FAIL
    assert worst([SKIP, SKIP]) == SKIP and worst([]) == SKIP
    assert worst([OK, SKIP]) == OK


def _row(**kw) -> Row:
    base = dict(id="r", title="t", rewriter="original", retriever="bm25", kind="deterministic", tolerance=0.1,
                expected={"ndcg@10": {"biology": 20.0, "economics": 10.0}}, source="s", version="2025", via="v", cite="c",
                tasks=("biology", "economics"))
    return Row(**{**base, **kw})


def test_compare_per_task_and_average():
    row = _row()
    checks = compare(row, {"biology": {"ndcg@10": 0.2004}, "economics": {"ndcg@10": 0.1015}})
    by = {c.task: c for c in checks}
    assert by["biology"].verdict == OK and by["biology"].diff == pytest.approx(0.04)
    assert by["economics"].verdict == OKISH
    assert by["average"].measured == pytest.approx(15.095) and by["average"].expected == 15.0 and by["average"].verdict == OK
    # a task not measured: skipped, and no average over a partial row
    checks = compare(row, {"biology": {"ndcg@10": 0.25}})
    by = {c.task: c for c in checks}
    assert by["biology"].verdict == FAIL and by["economics"].verdict == SKIP and by["average"].verdict == SKIP
    # a failed cell carries no metric: skip, not a crash
    assert {c.verdict for c in compare(row, {"biology": {"error": "x"}, "economics": {"error": "y"}})} == {SKIP}


def test_compare_average_only_and_task_bands():
    row = _row(expected={"ndcg@10": {"average": 27.0}}, tolerance_average=0.05)
    (c,) = compare(row, {"biology": {"ndcg@10": 0.27}, "economics": {"ndcg@10": 0.2708}})
    assert c.task == "average" and c.tolerance == 0.05 and c.verdict == OK
    row = _row(tolerance=0.01, task_okish={"economics": 0.5})
    by = {c.task: c for c in compare(row, {"biology": {"ndcg@10": 0.20015}, "economics": {"ndcg@10": 0.103}})}
    assert by["biology"].verdict == OKISH and by["economics"].verdict == OKISH and by["average"].verdict == FAIL


# -- the published rows ---------------------------------------------------------------------------------
def test_published_rows_resolve_and_are_stated():
    from bright_eval.retrievers import RETRIEVERS
    from bright_eval.rewriters import REWRITERS

    rows = {r.id: r for r in load_rows()}
    for need in ("bm25-original", "bm25-original-2024", "bm25-gpt4-reason", "bm25-tsqr-7b-published",
                 "bm25-tsqr-1.5b-published", "anserini-bm25", "bm25-tsqr-7b"):
        assert need in rows
    for r in rows.values():
        RETRIEVERS.lookup(r.retriever)
        try:
            REWRITERS.lookup(r.rewriter)
        except BrightEvalError:
            assert r.rewriter_fallback, r.id
            REWRITERS.lookup(r.rewriter_fallback)
        assert r.source and r.via and r.cite and r.version in ("2024", "2025", "unstated", "n/a")
        assert {"deterministic": 0.1, "anserini": 0.01}.get(r.kind, r.tolerance) == r.tolerance, r.id
        assert r.kind != "sampled" or r.tolerance >= 1.0
        assert ("gpu" in r.needs) == (r.kind in ("dense", "sampled")), r.id
    # the numbers are reported.tsv's, not copies
    assert rows["bm25-original"].expected["ndcg@10"]["biology"] == 18.9
    assert rows["bm25-original-2024"].expected["ndcg@10"]["biology"] == 19.2
    assert rows["bm25-tsqr-7b-published"].expected["ndcg@10"]["biology"] == 57.9
    assert rows["bm25-gpt4-reason-2025"].expected["ndcg@10"] == {"average": 27.0}
    assert rows["anserini-bm25"].expected["recall@100"]["biology"] == pytest.approx(42.05)


def _md_tables(text: str) -> list[list[str]]:
    return [[c.strip().replace("**", "") for c in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.startswith("|") and not line.startswith("|---")]


@pytest.fixture(scope="module")
def paper_tables(shared_bright) -> str:
    path = shared_bright.parent / "reference" / "paper-tables.md"
    if not path.exists():
        pytest.fail(f"{path} not found (shared/reference beside shared/bright)")
    return path.read_text(encoding="utf-8")


def test_every_reported_row_traces_to_its_source(paper_tables, shared_bright):
    """Each row of reported.tsv, in BRIGHT's task order, is a run of cells printed in one row of
    paper-tables.md (so a swapped pair fails), or equals Anserini's table to 4 decimals."""
    printed = [[c for c in r] for r in _md_tables(paper_tables)]
    anserini = list(csv.DictReader((shared_bright / "reference_scores_anserini.tsv").open(), delimiter="\t"))
    ans_model = {"Anserini BM25": "bm25", "Anserini BM25 query-side": "bm25qs", "Anserini BGE (bge-large-en-v1.5)": "bge-flat-onnx",
                 "Anserini BGE (cached queries)": "bge-flat-cached", "Anserini SPLADE-v3": "splade-v3-onnx",
                 "Anserini SPLADE-v3 (cached queries)": "splade-v3-cached"}
    col = {"ndcg@10": "nDCG@10", "recall@100": "R@100", "recall@1000": "R@1000"}
    n_checked = 0
    for metric, setting in (("ndcg@10", "standard"), ("recall@100", "standard"), ("recall@1000", "standard"), ("recall@1", "long")):
        for row in load_reported(metric=metric, setting=setting):
            if row.source.startswith("QueryGym"):
                continue  # traced to shared/querygym/published.tsv in test_querygym_reference.py
            if row.retriever.startswith("Anserini"):
                for task, value in row.scores.items():
                    rec = next(a for a in anserini if a["task"] == task and a["model"] == ans_model[row.retriever])
                    assert value == pytest.approx(100 * float(rec[col[metric]]), abs=1e-9)
                n_checked += 1
                continue
            tasks = [t for t in TASKS if t in row.scores]
            if tasks:
                cells = [f"{row.scores[t]:.1f}" for t in tasks]
                assert any("|" + "|".join(cells) + "|" in "|" + "|".join(p) + "|" for p in printed), (row.source, row.rewriter, row.retriever)
            else:  # an average only: the BM25 line of the reasoning-averages table, "2024 → 2025"
                bm25 = next(p for p in printed if p[0] == "BM25" and any("→" in c for c in p))
                pairs = [c.split("→") for c in bm25[1:]]
                idx = 0 if "2024" in row.source else 1
                assert any(f"{row.scores['average']:.1f}" == p[idx].strip() for p in pairs), row.rewriter
            n_checked += 1
    assert n_checked >= 80


def test_corrections_from_paper_tables():
    rows = load_reported()
    gpt4 = [r for r in rows if r.rewriter == "GPT-4 reasoning" and r.retriever == "BM25" and "theoremqa_questions" in r.scores]
    assert len(gpt4) == 1 and "BRIGHT 2024 numbers" in gpt4[0].source
    assert gpt4[0].scores["theoremqa_questions"] == 18.9 and gpt4[0].scores["theoremqa_theorems"] == 20.2
    assert not [r for r in rows if "GPT-4o" in r.rewriter]  # the duplicate, mislabelled row is gone
    tsqr = [r for r in rows if r.rewriter.startswith("TongSearch-QR") or "2506.11603" in r.source]
    assert len(tsqr) == 14 and all(list(r.scores) == list(TASKS) for r in tsqr)  # + 5 rows shared with BRIGHT/ReasonIR
    long = load_reported(metric="recall@1", setting="long")
    assert len(long) == 13 and all(len(r.scores) == 8 for r in long)


# -- planning: what this machine can run --------------------------------------------------------------
def test_plan_on_data_without_documents(shared_bright):
    rows = {r.id: r for r in load_rows()}
    src = LocalSource(shared_bright)
    p = plan(rows["bm25-tsqr-7b-published"], src, NO_GPU)
    assert not p.tasks and set(p.skipped) == set(TASKS) and set(p.skipped.values()) == {"no documents"}
    assert p.status == "no: no documents (12)"
    assert plan(rows["bm25-tsqr-7b"], src, NO_GPU).blocked == "needs a GPU"
    assert plan(rows["bm25-gpt4-reason"], src, NO_GPU).blocked == "no gpt4 reasoning set in the data"
    with_gpu = plan(rows["bm25-tsqr-7b"], src, Machine(gpu=True, env=frozenset()))
    assert not with_gpu.blocked and set(with_gpu.skipped.values()) == {"no documents"}


def test_plan_uses_the_fallback_rewriter_until_the_registry_knows_the_published_one():
    from bright_eval.rewriters import REWRITERS

    row = next(r for r in load_rows() if r.id == "bm25-tsqr-7b-published")
    try:
        REWRITERS.lookup("tsqr-7b@published")
        expected = "tsqr-7b@published"
    except BrightEvalError:
        expected = "bright:TongSearch-QR-7B"
    from bright_eval.reproduce import effective_rewriter

    assert effective_rewriter(row) == expected


def test_anserini_protocol_keeps_only_the_self_exclusion(shared_bright):
    src = AnseriniProtocol(LocalSource(shared_bright))
    aops = src.examples("aops")
    assert all(e.excluded_ids == [e.id] for e in aops)
    assert len(LocalSource(shared_bright).examples("aops")[0].excluded_ids) > 1000  # BRIGHT's list, not applied
    assert "anserini protocol" in src.description and src.root == LocalSource(shared_bright).root


# -- end to end on the proxy: honest verdicts ---------------------------------------------------------------
@pytest.fixture(scope="module")
def small_proxy(make_proxy, tmp_path_factory) -> Path:
    return make_proxy(tmp_path_factory.mktemp("proxy"), 15, ("biology", "economics"))


def test_reproduce_on_the_proxy_is_unverified(small_proxy, tmp_path):
    from bright_eval.cli import app

    res = CliRunner().invoke(app, ["reproduce", "bm25-original", "bm25-tsqr-7b-published", "bm25-tsqr-7b", "--data-dir",
                                   str(small_proxy), "--results-dir", str(tmp_path / "runs"), "--out", str(tmp_path / "out"),
                                   "--strict"], env={"CUDA_VISIBLE_DEVICES": "-1", "COLUMNS": "100"})
    assert res.exit_code == 1, res.output  # --strict: nothing was verified
    assert "not BRIGHT's corpus" in res.output and "needs a GPU" in res.output and "nothing was verified" in res.output
    summary = json.loads((tmp_path / "out" / "reproduce.json").read_text())
    by = {r["id"]: r for r in summary["rows"]}
    assert by["bm25-tsqr-7b"]["status"] == "no: needs a GPU" and not by["bm25-tsqr-7b"]["checks"][0]["measured"]
    for rid in ("bm25-original", "bm25-tsqr-7b-published"):
        r = by[rid]
        assert r["verdict"] == UNVERIFIED and set(r["skipped"]) == set(TASKS) - {"biology", "economics"}
        assert set(r["unverified"]) == {"biology", "economics"} and "answer-retrieval proxy" in r["unverified"]["biology"]
        measured = {c["task"]: c for c in r["checks"] if c["measured"] is not None}
        assert set(measured) == {"biology", "economics"}
        for task, c in measured.items():  # the summary holds the results files' numbers, unchanged
            rewriter = "original" if rid == "bm25-original" else r["rewriter_used"]
            files = [json.loads(p.read_text()) for p in (tmp_path / "runs" / rid).rglob(f"{task}.json")]
            assert len(files) == 1 and files[0]["rewriter"] == rewriter
            assert c["measured"] == pytest.approx(100 * files[0]["metrics"]["ndcg@10"], abs=1e-12)
    md = (tmp_path / "out" / "reproduce.md").read_text()
    html = (tmp_path / "out" / "reproduce.html").read_text()
    assert "| bm25-original |" in md and re.search(r"\| biology \| ndcg@10 \| [\d.]+ \| 18\.90 \|", md)
    assert "<table>" in html and "bm25-tsqr-7b-published" in html and UNVERIFIED in html and ">FAIL<" not in html
    # without --strict the same run exits 0 (the verdicts are in the output and the summary)
    res = CliRunner().invoke(app, ["reproduce", "bm25-original", "--data-dir", str(small_proxy), "--results-dir",
                                   str(tmp_path / "runs"), "--out", str(tmp_path / "out2")])
    assert res.exit_code == 0 and "verdict: UNVERIFIED" in res.output and "FAIL" not in res.output.replace("0 FAIL", "")


def test_reproduce_list_and_errors(shared_bright):
    from bright_eval.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["reproduce", "--list", "--data-dir", str(shared_bright)], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    assert "bm25-tsqr-7b-published" in res.output and "no documents" in res.output
    assert max(len(line) for line in res.output.splitlines()) <= 80
    res = runner.invoke(app, ["reproduce", "bm25-orignal", "--data-dir", str(shared_bright)])
    assert res.exit_code != 0 and "did you mean bm25-original" in str(res.exception)
    res = runner.invoke(app, ["reproduce", "--data-dir", str(shared_bright)])
    assert res.exit_code != 0 and "--all" in str(res.exception)
