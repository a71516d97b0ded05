"""QueryGym's 70 published BRIGHT numbers: in reported.tsv exactly as shared/querygym/published.tsv
has them, runnable as `reproduce` rows (bm25-lucene + the published reformulations), listed with
their published averages."""

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bright_eval.reproduce import load_rows
from bright_eval.scoreboard import load_aliases, load_reported

SHARED_QG = Path(__file__).resolve().parent.parent.parent / "shared" / "querygym"
AVERAGES = {"mugi": 34.46, "genqr_ensemble": 29.15, "genqr": 27.83, "csqe": 25.74, "lamer": 24.76, "query2doc-zs": 21.52,
            "qa_expand": 21.50, "query2doc-cot": 21.04, "query2doc-fs": 20.83, "query2e": 20.79}  # shared/querygym/README.md


@pytest.fixture(scope="module")
def published() -> dict[tuple[str, str], dict]:
    path = SHARED_QG / "published.tsv"
    if not path.exists():
        pytest.fail(f"{path} not found")
    out = {}
    for r in csv.DictReader(path.open(encoding="utf-8"), delimiter="\t"):
        mode = json.loads(r["method_params"]).get("mode")
        out[(r["method"] + (f"-{mode}" if mode else ""), r["dataset"][len("bright-"):].replace("-", "_"))] = r
    return out


def test_reported_rows_are_the_published_metrics(published):
    n = 0
    for metric, col in (("ndcg@10", "ndcg_cut_10"), ("recall@100", "recall_100")):
        rows = [r for r in load_reported(metric=metric) if r.source.startswith("QueryGym")]
        assert len(rows) == 10
        for row in rows:
            variant = row.rewriter.removeprefix("QueryGym GPT-4.1 ").replace(" (", "-").rstrip(")")
            assert len(row.scores) == 7
            for task, value in row.scores.items():
                assert value == pytest.approx(100 * float(published[(variant, task)][col]), abs=1e-9)
                n += 1
    assert n == 140


def test_reproduce_rows_name_the_published_rewriters():
    """Each row's rewriter, by its display name, is the alias of the reported rewriter (leaderboard twins)."""
    from bright_eval.rewriters import REWRITERS

    rows = {r.id: r for r in load_rows() if r.id.startswith("qg-")}
    assert len(rows) == 10
    for variant, avg in AVERAGES.items():
        row = rows[f"qg-{variant}"]
        assert row.retriever == "bm25-lucene" and row.protocol == "anserini" and row.tolerance == 0.01
        assert row.metrics == ("ndcg@10", "recall@100") and len(row.tasks) == 7
        assert sum(row.expected["ndcg@10"].values()) / 7 == pytest.approx(avg, abs=0.005)
        name = REWRITERS.display_name(row.rewriter, row.rewriter_args)
        patterns = [p for ps in load_aliases()["rewriter"].values() for p in ps]
        assert name in patterns, name
    assert load_aliases()["retriever"]["Pyserini BM25 (k1 0.9, b 0.4)"] == ["bm25-lucene"]


def test_reproduce_list_shows_the_rows_with_their_averages(shared_bright):
    from bright_eval.cli import app

    res = CliRunner().invoke(app, ["reproduce", "--list", "--data-dir", str(shared_bright)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    blocks, cur = {}, None
    for ln in res.output.splitlines():
        if ln[:2].strip():  # a row starts: its id in the first column
            cur = ln.split()[0]
        if cur:
            blocks[cur] = blocks.get(cur, "") + ln + "\n"
    for variant, avg in AVERAGES.items():
        assert blocks[f"qg-{variant}"].split()[1] == f"{avg:.2f}", blocks[f"qg-{variant}"]  # the avg column
    assert "qg-gpt-4.1:query2doc@published(mode=cot) + bm25-lucene" in res.output
