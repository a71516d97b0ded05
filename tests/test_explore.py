"""`bright-eval explore`: the site's data equals the results files number for number (no browser
needed), and the BM25 term contributions add up to the scores in the run files."""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import pytest

from bright_eval import stats
from bright_eval.cli import main
from bright_eval.data import LocalSource
from bright_eval.explore.pages import word_diff
from bright_eval.results import by_system, load_results
from bright_eval.scoring import METRICS
from bright_eval.trec import ranked, read_run


def run_cli(*args) -> None:
    argv = sys.argv
    sys.argv = ["bright-eval", *map(str, args)]
    try:
        main()
    except SystemExit as exc:
        assert not exc.code, f"exit {exc.code}"
    finally:
        sys.argv = argv


def read_js(path: Path) -> tuple[str, dict]:
    text = path.read_text(encoding="utf-8")
    m = re.fullmatch(r'BE\.put\(("(?:[^"\\]|\\.)*"),(.*)\);\n', text, flags=re.S)
    assert m, f"{path}: not a BE.put(key, data) file"
    return json.loads(m.group(1)), json.loads(m.group(2))


def overview_of(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="be-overview">(.*?)</script>', html, flags=re.S)
    return json.loads(m.group(1))


@pytest.fixture(scope="module")
def site(explore_runs, tmp_path_factory):
    data, results = explore_runs
    out = tmp_path_factory.mktemp("site")
    run_cli("explore", "--results-dir", results, "--data-dir", data, "--out", out, "--depth", 5)
    return data, results, out


def rbo(a, b, p=0.9):
    """Reference for the page's RBO (extrapolated, Webber et al. 2010), by the textbook formula."""
    k = min(len(a), len(b))
    x = [len(set(a[:d]) & set(b[:d])) for d in range(1, k + 1)]
    return x[-1] / k * p**k + (1 - p) / p * sum(x[d - 1] / d * p**d for d in range(1, k + 1))


def test_word_diff_rebuilds_both_texts():
    a, b = "Why  do veins look blue\nwhen blood is red?", "why do VEINS look blue? Light scattering; blood is red?"
    ops = word_diff(a, b)
    assert "".join(t for op, t in ops if op != "+") == a
    assert "".join(t for op, t in ops if op != "-") == b
    added = " ".join(t for op, t in ops if op == "+")
    assert "Light scattering;" in added and "when" in "".join(t for op, t in ops if op == "-")
    assert ["=", "look "] in ops and ["=", "blood is red?"] in ops


def test_rbo_reference():
    assert rbo(list("abcde"), list("abcde")) == pytest.approx(1.0)
    assert rbo(list("abc"), list("xyz")) == 0.0


def test_site_matches_results_files(site):
    data, results, out = site
    records = load_results(results)
    systems = by_system(records)
    html = (out / "index.html").read_text(encoding="utf-8")
    ov = overview_of(html)
    assert "http://" not in html.replace("http://127.0.0.1", "") and "https://" not in html  # nothing from a CDN
    labels = {s["key"]: (s["rewriter"], s["retriever"]) for s in ov["systems"]}
    assert set(labels.values()) == set(systems)
    # overview: every leaderboard cell, and the W/T/L against the baseline
    for row in ov["board"]:
        for task, value in row["cells"].items():
            assert value == systems[labels[row["key"]]][task].metrics["ndcg@10"]
    for task, deltas in ov["deltas"].items():
        for d in deltas:
            a, b = systems[labels[d["key"]]][task], systems[labels[d["base"]]][task]
            assert labels[d["base"]][0] == "original" and labels[d["base"]][1] == labels[d["key"]][1]
            diffs = [a.per_query[q]["ndcg@10"] - b.per_query[q]["ndcg@10"] for q in b.per_query]
            assert (d["wins"], d["ties"], d["losses"]) == stats.win_tie_loss(diffs)
            assert sum(d["hist"]) == len(diffs)
    # first stages and fused children are linked
    by_label = {v: k for k, v in labels.items()}
    rr = ov["systems"][list(labels).index(by_label[("bright:gpt4", "bm25 >> embed:all-minilm-l6-v2")])]
    assert labels[rr["first_stage"]] == ("bright:gpt4", "bm25")
    fused = ov["systems"][list(labels).index(by_label[("original", "fuse:rrf(bm25,bm25-lucene)")])]
    assert [labels[k] for k in fused["children"]] == [("original", "bm25"), ("original", "bm25-lucene")]

    source = LocalSource(data)
    checked_terms = 0
    for task, rel in ov["task_files"].items():
        key, td = read_js(out / rel)
        assert key == f"task/{task}"
        examples = {e.id: e for e in source.examples(task)}
        assert td["qids"] == list(examples)
        for i, qid in enumerate(td["qids"]):
            ex = examples[qid]
            assert [td["docs"][j] for j in td["gold"][i]] == ex.gold_ids
            assert td["excluded"][i] == len(ex.excluded_ids)
            qkey, qd = read_js(out / td["files"][i])
            assert qkey == f"q/{task}/{qid}" and qd["gold"] == ex.gold_ids and qd["excluded"] == sorted(ex.excluded_ids)
            assert qd["reasoning"] == ex.reasoning and qd["gold_answer"] == ex.gold_answer
            for skey, sd in td["systems"].items():
                rec = systems[labels[skey]][task]
                assert sd["metrics"][i] == [rec.per_query[qid][m] for m in METRICS]
                run = [(d, s) for d, s in ranked(read_run(Path(rec.path).parent / rec.run_file)[qid]) if d not in ex.excluded_ids]
                assert [td["docs"][j] for j in sd["top"][i]] == [d for d, _ in run[:5]]
                pos = {d: n for n, (d, _) in enumerate(run, 1)}
                assert sd["gold_ranks"][i] == [pos.get(g, 0) for g in ex.gold_ids]
                assert sd["run_depth"][i] == len(run)
                shown = [r for r in qd["rankings"][skey] if not r[2]]
                assert [(d, s) for d, s, _ in shown] == run[:5]
                diff = qd["rewrites"][rec.rewriter]
                assert "".join(t for op, t in diff if op != "+") == rec.queries[qid]["original"]
                assert "".join(t for op, t in diff if op != "-") == rec.queries[qid]["rewritten"]
                for first, ranks in qd["via"].get(skey, {}).items():
                    frec = systems[labels[first]][task]
                    frun = [d for d, _ in ranked(read_run(Path(frec.path).parent / frec.run_file)[qid]) if d not in ex.excluded_ids]
                    assert ranks == {d: frun.index(d) + 1 if d in frun else 0 for d, _, _ in shown}
                if rec.retriever in ("bm25", "bm25-lucene") and not rec.reranker:
                    terms = qd["terms"][qd["terms_of"][skey]]
                    for d, score, _ in shown:
                        if score > 0:
                            total = sum(p[1] for p in terms[d])
                            assert math.isclose(total, score, rel_tol=1e-4), (task, qid, skey, d, total, score)
                            checked_terms += 1
            for d in qd["rankings"][next(iter(qd["rankings"]))]:
                assert d[0] in qd["docs"] and qd["docs"][d[0]]["text"]
    assert checked_terms > 20


def test_single_file_holds_the_same_data(site, tmp_path):
    data, results, out = site
    one = tmp_path / "x.html"
    run_cli("explore", "--results-dir", results, "--data-dir", data, "--out", one, "--depth", 5, "--single-file")
    html = one.read_text(encoding="utf-8")
    inline = dict(re.findall(r'<script type="application/json" data-key="([^"]+)">(.*?)</script>', html, flags=re.S))
    ov = overview_of(html)
    for rel in ov["task_files"].values():
        key, td = read_js(out / rel)
        assert json.loads(inline[key]) == td
    assert len(inline) == len(list((out / "data").rglob("*.js")))
    assert not re.search(r"<script[^>]+src=", html)


def test_without_documents_says_so(explore_runs, tmp_path, capsys):
    data, results = explore_runs
    bare = tmp_path / "bare"
    for task in ("biology", "leetcode"):
        (bare / task).mkdir(parents=True)
        (bare / task / "examples.jsonl").write_text((data / task / "examples.jsonl").read_text())
    run_cli("explore", "--results-dir", results, "--data-dir", bare, "--out", tmp_path / "s")
    err = capsys.readouterr().err
    assert "documents unavailable" in err
    _, td = read_js(tmp_path / "s" / "data" / "task-0.js")
    _, qd = read_js(tmp_path / "s" / td["files"][0])
    assert qd["docs"] == {} and "documents unavailable" in qd["doc_note"] and qd["gold"]
