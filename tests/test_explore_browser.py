"""The explorer in a real browser: Debian's chromium, headless, through selenium and the system
chromedriver (bright_eval/explore/browser.py). Loads the overview, opens a task, opens a query, and
checks that what the pages show (gold marks, ranks, diff, metrics, contrasts) equals the results
files, and that the console has no errors. Skipped, saying why, where no browser is installed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bright_eval.cli import main
from bright_eval.data import LocalSource
from bright_eval.explore import browser
from bright_eval.results import by_system, load_results
from bright_eval.scoring import METRICS
from bright_eval.trec import ranked, read_run

WHY = browser.missing()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"no browser to drive: {WHY}")


def rbo(a, b, p=0.9):
    k = min(len(a), len(b))
    x = [len(set(a[:d]) & set(b[:d])) for d in range(1, k + 1)]
    return x[-1] / k * p**k + (1 - p) / p * sum(x[d - 1] / d * p**d for d in range(1, k + 1))


@pytest.fixture(scope="module")
def site(explore_runs, tmp_path_factory):
    data, results = explore_runs
    out = tmp_path_factory.mktemp("site")
    argv = sys.argv
    sys.argv = ["bright-eval", "explore", "--results-dir", str(results), "--data-dir", str(data), "--out", str(out), "--depth", "5"]
    try:
        main()
    except SystemExit as exc:
        assert not exc.code
    finally:
        sys.argv = argv
    return data, results, out


@pytest.fixture(scope="module")
def driver():
    d = browser.start()
    yield d
    d.quit()


def errors(driver) -> list:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def css(driver, sel):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, sel)


def test_overview_task_query_match_the_results(site, driver):
    from selenium.webdriver.common.keys import Keys

    data, results, out = site
    systems = by_system(load_results(results))
    driver.get((out / "index.html").as_uri())
    browser.wait_for(driver, "#board")
    # overview: every cell is the record's nDCG@10 x100, and links to its task
    labels = {}
    for tr in css(driver, "#board tbody tr"):
        tds = tr.find_elements("css selector", "td")
        labels[tr.get_attribute("data-sys")] = (tds[0].text, tds[1].text)
        for a in tr.find_elements("css selector", "a[data-task]"):
            rec = systems[(tds[0].text, tds[1].text)][a.get_attribute("data-task")]
            assert a.text == f"{100 * rec.metrics['ndcg@10']:.1f}"
    assert set(labels.values()) == set(systems)
    key = {v: k for k, v in labels.items()}
    a_key, b_key = key[("original", "bm25")], key[("bright:gpt4", "bm25")]
    # open a task from the leaderboard cell of bright:gpt4 + bm25 on leetcode (A = its baseline)
    css(driver, f'#board tr[data-sys="{b_key}"] a[data-task="leetcode"]')[0].click()
    browser.wait_for(driver, "#qtable")
    assert driver.find_element("id", "sel-a").get_attribute("value") == a_key
    ra, rb = systems[("original", "bm25")]["leetcode"], systems[("bright:gpt4", "bm25")]["leetcode"]
    source = LocalSource(data)
    examples = {e.id: e for e in source.examples("leetcode")}
    runs = {k: read_run(Path(r.path).parent / r.run_file) for k, r in (("a", ra), ("b", rb))}

    def top(run, ex, k=5):
        return [d for d, _ in ranked(run[ex.id]) if d not in ex.excluded_ids][:k]

    rows = css(driver, "#qtable tbody tr")
    assert len(rows) == len(examples)
    for tr in rows:
        qid = tr.get_attribute("data-qid")
        delta = float(tr.find_element("css selector", "[data-delta]").get_attribute("data-delta"))
        assert delta == pytest.approx(rb.per_query[qid]["ndcg@10"] - ra.per_query[qid]["ndcg@10"], abs=1e-12)
        shown_rbo = float(tr.find_element("css selector", "[data-rbo]").get_attribute("data-rbo"))
        assert shown_rbo == pytest.approx(rbo(top(runs["a"], examples[qid]), top(runs["b"], examples[qid])), abs=1e-9)
    # keyboard: j moves to the second row, Enter opens it
    second = rows[1].get_attribute("data-qid")
    driver.find_element("tag name", "body").send_keys("j", Keys.ENTER)
    browser.wait_for(driver, "#rankings")
    qid = second
    ex = examples[qid]
    assert ex.excluded_ids, "the leetcode fixture has excluded ids"
    # the diff rebuilds the rewrite and the original
    block = css(driver, '.rewrite[data-rewriter="bright:gpt4"]')[0]
    kept = "".join(s.get_attribute("textContent") for s in block.find_elements("css selector", ".d-eq, .d-add"))
    orig = "".join(s.get_attribute("textContent") for s in block.find_elements("css selector", ".d-eq, .d-del"))
    assert kept == rb.queries[qid]["rewritten"] and orig == rb.queries[qid]["original"]
    assert css(driver, "#original")[0].get_attribute("textContent") == ex.query
    # metrics
    for k, rec in ((a_key, ra), (b_key, rb)):
        for m in METRICS:
            cell = css(driver, f'#metrics td[data-sys="{k}"][data-metric="{m}"]')[0]
            assert float(cell.get_attribute("data-value")) == rec.per_query[qid][m]
    # rankings: order, rank numbers and gold marks; excluded ids never ranked
    for k, run in ((a_key, runs["a"]), (b_key, runs["b"])):
        items = css(driver, f'#rankings [data-sys="{k}"] li')
        ranked_items = [li for li in items if li.get_attribute("data-rank")]
        assert [li.get_attribute("data-doc") for li in ranked_items] == top(run, ex)
        assert [int(li.get_attribute("data-rank")) for li in ranked_items] == list(range(1, len(ranked_items) + 1))
        for li in items:
            assert (li.get_attribute("data-gold") == "1") == (li.get_attribute("data-doc") in ex.gold_ids)
            if li.get_attribute("data-doc") in ex.excluded_ids:
                assert "excluded" in li.get_attribute("class") and not li.get_attribute("data-rank")
        # gold ranks, including "not in top-N"
        kept_run = [d for d, _ in ranked(run[qid]) if d not in ex.excluded_ids]
        for g in ex.gold_ids:
            cell = css(driver, f'#goldranks td[data-sys="{k}"][data-doc="{g}"]')[0]
            if g in kept_run:
                assert cell.text == f"#{kept_run.index(g) + 1}"
            else:
                assert cell.text == f"not in top-{len(kept_run)}"
    # n goes to the next query in the task's order, u back to the task
    driver.find_element("tag name", "body").send_keys("u")
    browser.wait_for(driver, "#qtable")
    assert errors(driver) == []


def test_single_file_opens_a_query(site, driver, tmp_path):
    data, results, out = site
    one = tmp_path / "one.html"
    argv = sys.argv
    sys.argv = ["bright-eval", "explore", "--results-dir", str(results), "--data-dir", str(data), "--out", str(one), "--single-file"]
    try:
        main()
    except SystemExit as exc:
        assert not exc.code
    finally:
        sys.argv = argv
    driver.get(one.as_uri() + "#/query/biology/0")
    browser.wait_for(driver, "#rankings")
    assert css(driver, "#rankings li[data-gold='1']"), "gold documents are marked"
    assert css(driver, "#rankings mark"), "matched BM25 terms are highlighted in the gold documents' texts"
    assert errors(driver) == []


def test_report_links_open_the_explorer_on_their_systems(site, driver, tmp_path):
    import re

    data, results, out = site
    argv = sys.argv
    sys.argv = ["bright-eval", "report", "--results-dir", str(results), "--out", str(tmp_path / "rep"), "--rounds", "100",
                "--explorer", (out / "index.html").as_uri()]
    try:
        main()
    except SystemExit as exc:
        assert not exc.code
    finally:
        sys.argv = argv
    html = (tmp_path / "rep" / "report.html").read_text(encoding="utf-8")
    links = re.findall(r"<a href='([^']+#/query/[^']+)'>", html)
    assert links, "report.html links its wins and losses to the explorer"
    import html as h

    url = h.unescape(links[0])
    driver.get(url)
    browser.wait_for(driver, "#rankings")
    from urllib.parse import parse_qs, unquote, urlsplit

    params = parse_qs(urlsplit(url).fragment.split("?", 1)[1])
    heads = [e.text.split("\n")[0] for e in css(driver, "#rankings > div > h3")]
    assert heads == [unquote(params["a"][0]), unquote(params["b"][0])]
    assert errors(driver) == []
