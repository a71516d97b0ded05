"""Ablation reports: every number from the results files, significance equal to scipy's on the same
per-query arrays, and the Markdown/HTML/JSON outputs."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sp

from bright_eval import stats
from bright_eval.ablation_report import Settings, build_report, write_report
from bright_eval.cache import ArtifactCache
from bright_eval.data import LocalSource
from bright_eval.errors import BrightEvalError
from bright_eval.execute import execute
from bright_eval.experiment import build_request
from bright_eval.plan import make_plan
from bright_eval.results import result_path

TASKS3 = ("biology", "economics", "robotics")
TSQR = "bright:TongSearch-QR-7B"  # the published TongSearch-QR-7B rewrites
N = 12  # queries per task: 2^12 sign vectors, so the randomization test is exact and comparable with scipy's



@pytest.fixture(scope="module")
def results(make_proxy, tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    make_proxy(data, N, TASKS3)
    out = tmp_path_factory.mktemp("results")
    request = build_request(["original", TSQR], ["bm25", "bm25-lucene"], ",".join(TASKS3))
    cells = execute(make_plan(request, LocalSource(data), out, ArtifactCache(tmp_path_factory.mktemp("cache"))))
    assert all(c.status == "done" for c in cells), [c.error for c in cells]
    return out


def _arrays(results_dir: Path, rewriter: str, retriever: str, task: str) -> dict[str, float]:
    rec = json.loads(result_path(results_dir, rewriter, retriever, task).read_text())
    return {q: v["ndcg@10"] for q, v in rec["per_query"].items()}


def test_significance_equals_scipy_on_the_results_arrays(results, monkeypatch):
    # Reports never retrieve: any attempt to build a retriever fails the test.
    from bright_eval import retrievers

    monkeypatch.setattr(retrievers.RETRIEVERS, "create", lambda *a, **k: pytest.fail("report created a retriever"))
    rep = build_report(results, "original", settings=Settings(rounds=10_000, seed=1))
    assert {(c["rewriter"], c["retriever"]) for c in rep["comparisons"]} == {(TSQR, "bm25"), (TSQR, "bm25-lucene")}
    for c in rep["comparisons"]:
        assert c["baseline"] == {"rewriter": "original", "retriever": c["retriever"]}
        pooled_a, pooled_b, raw_t, raw_r = [], [], [], []
        for row in c["per_task"]:
            sys_q = _arrays(results, TSQR, c["retriever"], row["task"])
            base_q = _arrays(results, "original", c["retriever"], row["task"])
            qids = sorted(base_q)
            a, b = np.array([sys_q[q] for q in qids]), np.array([base_q[q] for q in qids])
            assert row["n"] == N and row["delta"] == pytest.approx((a - b).mean(), abs=1e-15)
            assert row["p_t"] == pytest.approx(sp.ttest_rel(a, b).pvalue, rel=1e-12) or np.all(a == b)
            exact = sp.permutation_test((a, b), lambda x, y, axis: np.mean(x - y, axis=axis), permutation_type="samples",
                                        vectorized=True, n_resamples=np.inf).pvalue
            assert row["p_rand"] == pytest.approx(exact, abs=1e-12)
            w, t, lo = int(np.sum(a - b > 1e-9)), int(np.sum(np.abs(a - b) <= 1e-9)), int(np.sum(a - b < -1e-9))
            assert (row["wins"], row["ties"], row["losses"]) == (w, t, lo)
            assert row["ci"][0] <= row["delta"] <= row["ci"][1]
            pooled_a.append(a)
            pooled_b.append(b)
            raw_t.append(row["p_t"])
            raw_r.append(row["p_rand"])
        assert [r["p_t_holm"] for r in c["per_task"]] == pytest.approx(stats.holm(raw_t))
        assert [r["p_rand_holm"] for r in c["per_task"]] == pytest.approx(stats.holm(raw_r))
        o = c["overall"]
        a, b = np.concatenate(pooled_a), np.concatenate(pooled_b)
        assert o["p_t_pooled"] == pytest.approx(sp.ttest_rel(a, b).pvalue, rel=1e-12)
        assert o["delta"] == pytest.approx(np.mean([r["delta"] for r in c["per_task"]]))
        assert o["n"] == 3 * N and o["wins"] + o["ties"] + o["losses"] == 3 * N
        assert 0 < o["p_rand_macro"] <= 1


def test_report_files(results, tmp_path):
    rep = build_report(results, "original", "bm25", settings=Settings(rounds=2000, top_n=3))
    # Fixed baseline: every other system against original + bm25.
    assert {(c["rewriter"], c["retriever"]) for c in rep["comparisons"]} == {
        (TSQR, "bm25"), ("original", "bm25-lucene"), (TSQR, "bm25-lucene")}
    paths = write_report(rep, tmp_path / "rep")
    md = paths["markdown"].read_text()
    assert "## Per-task deltas" in md and "figures/per_task_delta.png" in md and "figures/gain_vs_length.png" in md
    for name in ("per_task_delta.png", "gain_vs_length.png"):
        assert (tmp_path / "rep" / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = paths["html"].read_text()
    b64 = html.split("data:image/png;base64,")[1].split("'")[0]
    assert base64.b64decode(b64)[:4] == b"\x89PNG"
    saved = json.loads(paths["json"].read_text())
    assert saved["schema"] == "bright-eval.report/1"
    tsqr = next(c for c in saved["comparisons"] if c["rewriter"] == TSQR and c["retriever"] == "bm25")
    assert len(tsqr["queries"]) == 3 * N
    for ex in tsqr["examples"]:  # wins and losses carry the texts shown in the report
        assert ex["original"] and ex["rewritten"] and ex["rewritten"] != ex["original"]
        assert (ex["kind"] == "win") == (ex["delta"] > 0)
        assert ex["original"][:40].replace("\n", " ") in md.replace("\n", " ") or "…" in md


def test_report_errors(results, tmp_path):
    with pytest.raises(BrightEvalError, match="no system to compare"):
        build_report(results, "no-such-rewriter")
    with pytest.raises(BrightEvalError, match="no results files"):
        build_report(tmp_path, "original")
    with pytest.raises(BrightEvalError, match="unknown metric"):
        build_report(results, "original", settings=Settings(metric="ndcg@11"))


def test_cli_report_json(results, tmp_path):
    from typer.testing import CliRunner

    from bright_eval.cli import app

    res = CliRunner().invoke(app, ["report", "--results-dir", str(results), "--baseline", "original", "--rewriters", TSQR,
                                   "--retrievers", "bm25", "--out", str(tmp_path / "r"), "--rounds", "500", "--format", "json", "--no-html"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert [(c["rewriter"], c["retriever"]) for c in rep["comparisons"]] == [(TSQR, "bm25")]
    assert (tmp_path / "r" / "report.md").exists() and not (tmp_path / "r" / "report.html").exists()
