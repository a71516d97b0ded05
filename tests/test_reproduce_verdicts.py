"""Verdicts that cannot lie: `bright-eval reproduce` says OK, OKish or FAIL only on data known to be
BRIGHT (xlangai/BRIGHT at a resolved revision, or a `data export` of it whose files are unchanged,
with BRIGHT's published counts and every gold id in the corpus); anything else is UNVERIFIED with the
reason, in the console, reproduce.md, reproduce.json and reproduce.html alike."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bright_eval import bright_identity
from bright_eval.bright_identity import BRIGHT_REPO, PROXY_REASON, Counts, Identity, published_counts, source_record
from bright_eval.data import HubSource, LocalSource
from bright_eval.reproduce import FAIL, OK, SKIP, UNVERIFIED, compare, load_rows, restrict, worst
from bright_eval.tasks import TASKS

SHA = "0123456789abcdef0123456789abcdef01234567"
ENV = {"CUDA_VISIBLE_DEVICES": "-1", "COLUMNS": "120"}


@pytest.fixture
def tiny_counts(monkeypatch):
    """BRIGHT's counts as tiny_bright's biology has them (4 queries, 12 documents), so a checked export
    of it passes every check and the verdict is judged."""
    monkeypatch.setattr(bright_identity, "published_counts", lambda: {"biology": Counts(4, (12,))})


def _made_up(tiny_bright: Path, tmp: Path) -> Path:
    d = tmp / "made-up"
    shutil.copytree(tiny_bright, d)
    return d


def _exported(tiny_bright: Path, tmp: Path) -> Path:
    """A folder written by the real `data export`, from a source that records xlangai/BRIGHT at a commit."""
    origin = _made_up(tiny_bright, tmp)
    rec = source_record(origin, ["biology"], "folder", f"hub:{BRIGHT_REPO}", BRIGHT_REPO, SHA)
    (origin / "SOURCE.json").write_text(json.dumps(rec))
    res = CliRunner().invoke(_app(), ["data", "export", "--data-dir", str(origin), "--to", str(tmp / "export"), "--tasks", "biology"])
    assert res.exit_code == 0, res.output
    return tmp / "export"


def _app():
    from bright_eval.cli import app

    return app


def _reproduce(data_args: list[str], tmp: Path, *extra: str):
    return CliRunner().invoke(_app(), ["reproduce", "bm25-original", "--tasks", "biology", *data_args, "--results-dir",
                                       str(tmp / "runs"), "--out", str(tmp / "out"), *extra], env=ENV)


def _outputs(tmp: Path) -> tuple[dict, str, str]:
    out = tmp / "out"
    return (json.loads((out / "reproduce.json").read_text()), (out / "reproduce.md").read_text(), (out / "reproduce.html").read_text())


# -- the counts ------------------------------------------------------------------------------------------
def test_published_counts_are_brights(shared_bright):
    counts = published_counts()
    assert set(counts) == set(TASKS)
    assert counts["biology"] == Counts(103, (57359,), (524,)) and counts["leetcode"].long_documents == ()
    for task in TASKS:  # query counts agree with the real examples
        assert len(LocalSource(shared_bright).examples(task)) == counts[task].queries, task


# -- a made-up folder in BRIGHT's layout -------------------------------------------------------------------
def test_made_up_folder_is_unverified_everywhere(tiny_bright, tmp_path):
    data = _made_up(tiny_bright, tmp_path)
    res = _reproduce(["--data-dir", str(data)], tmp_path)
    assert res.exit_code == 0, res.output
    assert "verdict: UNVERIFIED" in res.output and "no SOURCE.json" in res.output
    assert "verdict: OK" not in res.output and "verdict: FAIL" not in res.output
    summary, md, html = _outputs(tmp_path)
    (row,) = summary["rows"]
    assert row["verdict"] == UNVERIFIED and "no SOURCE.json" in row["unverified"]["biology"]
    assert {c["verdict"] for c in row["checks"]} == {UNVERIFIED} and row["checks"][0]["measured"] is not None
    assert "## bm25-original: UNVERIFIED" in md and "no SOURCE.json" in md and "| UNVERIFIED |" in md
    assert UNVERIFIED in html and "no SOURCE.json" in html and ">FAIL<" not in html and ">OK<" not in html


def test_made_up_folder_with_brights_counts_but_no_provenance_is_unverified(tiny_bright, tmp_path, tiny_counts):
    assert Identity(LocalSource(_made_up(tiny_bright, tmp_path))).task("biology").endswith(
        f"not a folder written by `bright-eval data export` from {BRIGHT_REPO}")


# -- a checked export ------------------------------------------------------------------------------------------
def test_export_records_provenance_and_hashes(tiny_bright, tmp_path, tiny_counts):
    export = _exported(tiny_bright, tmp_path)
    rec = json.loads((export / "SOURCE.json").read_text())
    assert rec["hub_repo"] == BRIGHT_REPO and rec["revision_id"] == SHA and rec["layout"] == "folder"
    assert set(rec["files"]) == {"biology/examples.jsonl", "biology/qrels.txt", "biology/documents.jsonl.gz"}
    assert Identity(LocalSource(export)).task("biology") == ""
    res = _reproduce(["--data-dir", str(export)], tmp_path, "--strict")
    summary, _, _ = _outputs(tmp_path)
    assert summary["rows"][0]["verdict"] == FAIL and not summary["rows"][0]["unverified"]  # judged: tiny numbers are not BRIGHT's
    assert res.exit_code == 1 and "verdict: FAIL" in res.output and "--strict: 1 row(s) FAIL" in res.output


def _rewrite_docs(path: Path, change) -> None:
    lines = gzip.open(path, "rt", encoding="utf-8").read().splitlines()
    gzip.open(path, "wt", encoding="utf-8").write("\n".join(change(lines)) + "\n")


@pytest.mark.parametrize("tamper,expect", [
    (lambda d: _rewrite_docs(d / "biology" / "documents.jsonl.gz",
                             lambda ls: [ls[0].replace('"content": "', '"content": "made up ')] + ls[1:]), "differs from the file"),
    (lambda d: (d / "biology" / "documents.jsonl").write_text('{"id": "x", "content": "y"}\n'), "was not written by `data export`"),
    (lambda d: (d / "biology" / "qrels.txt").unlink(), "written by `data export` but missing now"),
    (lambda d: (d / "SOURCE.json").write_text(json.dumps({**json.loads((d / "SOURCE.json").read_text()), "hub_repo": "me/BRIGHT"})),
     "exported from me/BRIGHT, not xlangai/BRIGHT"),
    (lambda d: (d / "SOURCE.json").write_text(json.dumps({**json.loads((d / "SOURCE.json").read_text()), "revision_id": None})),
     "records no hub revision"),
    (lambda d: (d / "SOURCE.json").write_text(json.dumps({"source": "hub:xlangai/BRIGHT", "hub_repo": BRIGHT_REPO,
                                                          "revision_id": SHA})), "lists no file hashes"),
    (lambda d: (d / "SOURCE.json").write_text("{not json"), "not readable JSON"),
], ids=["document-edited", "second-documents-file", "file-removed", "other-repo", "no-revision", "no-hashes", "bad-json"])
def test_tampered_export_is_unverified(tiny_bright, tmp_path, tiny_counts, tamper, expect):
    export = _exported(tiny_bright, tmp_path)
    tamper(export)
    assert expect in Identity(LocalSource(export)).task("biology")
    if expect == "written by `data export` but missing now":
        return  # no qrels: the run reads examples.jsonl, the check still refuses the folder
    res = _reproduce(["--data-dir", str(export)], tmp_path)
    if expect == "was not written by `data export`":  # two documents files: reading them is an error naming both
        assert "2 files hold the same data (documents.jsonl.gz, documents.jsonl)" in str(res.exception), res.output
        return
    summary, md, html = _outputs(tmp_path)
    row = summary["rows"][0]
    assert row["verdict"] == UNVERIFIED and expect in row["unverified"]["biology"], res.output
    assert expect in md and "verdict: UNVERIFIED" in res.output


def test_export_of_a_tampered_export_does_not_claim_bright(tiny_bright, tmp_path, tiny_counts):
    export = _exported(tiny_bright, tmp_path)
    _rewrite_docs(export / "biology" / "documents.jsonl.gz", lambda ls: [ls[0].replace('"content": "', '"content": "x ')] + ls[1:])
    res = CliRunner().invoke(_app(), ["data", "export", "--data-dir", str(export), "--to", str(tmp_path / "again"), "--tasks", "biology"])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "again" / "SOURCE.json").read_text())["hub_repo"] is None
    assert "not xlangai/BRIGHT" in Identity(LocalSource(tmp_path / "again")).task("biology")


def test_counts_and_gold_ids_are_checked(tiny_bright, tmp_path, monkeypatch):
    export = _exported(tiny_bright, tmp_path)
    assert Identity(LocalSource(export)).task("biology") == "biology: 4 queries; BRIGHT has 103"
    monkeypatch.setattr(bright_identity, "published_counts", lambda: {"biology": Counts(4, (57359,))})
    assert Identity(LocalSource(export)).task("biology") == "biology: 12 documents; BRIGHT has 57,359"
    # every count right, a gold id missing: examples.jsonl edited and re-hashed as an export would be
    monkeypatch.setattr(bright_identity, "published_counts", lambda: {"biology": Counts(4, (12,))})
    ex = export / "biology" / "examples.jsonl"
    ex.write_text(ex.read_text().replace("insects_light/Phototaxis_0.txt", "insects_light/nowhere.txt", 1))
    rec = json.loads((export / "SOURCE.json").read_text())
    rec["files"]["biology/examples.jsonl"] = bright_identity.file_hash(ex)
    (export / "SOURCE.json").write_text(json.dumps(rec))
    assert Identity(LocalSource(export)).task("biology") == "biology: 1 gold id(s) are not in the corpus"


# -- the hub -----------------------------------------------------------------------------------------------------
def test_hub_provenance(monkeypatch):
    assert Identity(HubSource("someone/BRIGHT-copy")).provenance() == f"hub dataset someone/BRIGHT-copy is not {BRIGHT_REPO}"
    src = HubSource(BRIGHT_REPO)
    monkeypatch.setattr(src, "check", lambda: "hub")  # no network here: the revision as a probe would resolve it
    src._revision_id = SHA
    identity = Identity(src)
    assert identity.provenance() == "" and (identity.repo, identity.revision) == (BRIGHT_REPO, SHA)


# -- the proxy, whichever way it is read ----------------------------------------------------------------------------
def test_proxy_is_named_through_data_dir_and_hub_repo(make_proxy, tmp_path):
    proxy = make_proxy(tmp_path / "proxy", 5, ("biology",))
    assert Identity(LocalSource(proxy)).provenance() == PROXY_REASON
    res = CliRunner().invoke(_app(), ["data", "export", "--data-dir", str(proxy), "--layout", "hub", "--to", str(tmp_path / "repo"),
                                      "--tasks", "biology", "--no-reasoning"])
    assert res.exit_code == 0, res.output
    assert Identity(HubSource(str(tmp_path / "repo"))).provenance() == PROXY_REASON
    # a copy that lost PROXY.md is still recognised by its gold ids (each question's own answer)
    (tmp_path / "repo" / "PROXY.md").unlink()
    identity = Identity(HubSource(str(tmp_path / "repo")))
    assert identity.provenance() != PROXY_REASON and identity.task("biology") == PROXY_REASON
    res = _reproduce(["--hub-repo", str(tmp_path / "repo")], tmp_path)
    assert res.exit_code == 0, res.output
    row = _outputs(tmp_path)[0]["rows"][0]
    assert row["verdict"] == UNVERIFIED and row["unverified"]["biology"] == PROXY_REASON


# -- --tasks, --strict, --list ----------------------------------------------------------------------------------------
def test_a_subset_mean_is_not_judged_against_the_average():
    row = next(r for r in load_rows() if r.id == "bm25-original")
    sub = restrict(row, ["biology", "economics"])
    checks = compare(sub, {"biology": {"ndcg@10": 0.189}, "economics": {"ndcg@10": 0.149}})
    assert [c.task for c in checks] == ["biology", "economics"] and {c.verdict for c in checks} == {OK}
    assert restrict(row, list(TASKS)) is row  # every task chosen: the average is checked as before
    assert "average" in [c.task for c in compare(row, {t: {"ndcg@10": 0.1} for t in TASKS})]


def test_subset_mean_is_shown_not_judged(tiny_bright, tmp_path):
    res = CliRunner().invoke(_app(), ["reproduce", "bm25-original", "--tasks", "biology,pony", "--data-dir", str(tiny_bright),
                                      "--results-dir", str(tmp_path / "runs"), "--out", str(tmp_path / "out")], env=ENV)
    assert res.exit_code == 0, res.output
    assert "over the 2 chosen tasks" in res.output and "not the published 12-task average; not judged" in res.output
    summary, md, html = _outputs(tmp_path)
    row = summary["rows"][0]
    assert "average" not in {c["task"] for c in row["checks"]} and row["subset_mean_not_judged"]["metric"] == "ndcg@10"
    assert row["tasks_of_published_row"] == 12 and "not judged" in md and "not judged" in html


def test_strict_fails_when_nothing_was_verified(tiny_bright, shared_bright, tmp_path):
    res = _reproduce(["--data-dir", str(_made_up(tiny_bright, tmp_path))], tmp_path, "--strict")
    assert res.exit_code == 1 and "--strict: nothing was verified (1 row(s) UNVERIFIED, 0 skipped)" in res.output
    res = _reproduce(["--data-dir", str(shared_bright)], tmp_path, "--strict")  # no documents: every row skipped
    assert res.exit_code == 1 and "nothing was verified (0 row(s) UNVERIFIED, 1 skipped)" in res.output


def test_list_shows_the_published_average(shared_bright):
    res = CliRunner().invoke(_app(), ["reproduce", "--list", "--data-dir", str(shared_bright)], env=ENV)
    assert res.exit_code == 0, res.output
    lines = {ln.split()[0]: ln.split()[1] for ln in res.output.splitlines() if ln.strip() and len(ln.split()) > 1}
    assert lines["bm25-tsqr-7b-published"] == "27.9" and lines["bm25-original"] == "14.5"
    assert lines["bm25-gpt4-reason-2025"] == "27.0"


def test_unverified_ranks_between_okish_and_fail():
    assert worst([OK, UNVERIFIED]) == UNVERIFIED and worst([UNVERIFIED, FAIL]) == FAIL and worst([SKIP, UNVERIFIED]) == UNVERIFIED
