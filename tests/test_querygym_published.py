"""`qg-gpt-4.1:<method>@published`: QueryGym's published BRIGHT reformulations, read from a local copy
of its runs (shared/querygym) or downloaded (a local server stands in for raw.githubusercontent.com),
always checked against the pinned sha256."""

import csv
import gzip
import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bright_eval.cache import ArtifactCache
from bright_eval.data import LocalSource
from bright_eval.errors import BrightEvalError
from bright_eval.rewriters import REWRITERS, Query
from bright_eval.rewriters import querygym_published as qgp

SHARED_QG = Path(__file__).resolve().parent.parent.parent / "shared" / "querygym"


@pytest.fixture(scope="module")
def shared_qg() -> Path:
    if not (SHARED_QG / "published.tsv").exists():
        pytest.fail(f"QueryGym's runs not found at {SHARED_QG}")
    return SHARED_QG


def _split(variant: str) -> tuple[str, str | None]:
    method, _, mode = variant.partition("-")
    return method, mode or None


def _rewriter(variant: str, tmp_path, folder=None):
    method, mode = _split(variant)
    args = {"folder": str(folder)} if folder else {}
    if mode:
        args["mode"] = mode
    return REWRITERS.create(f"qg-gpt-4.1:{method}@published", args, cache=ArtifactCache(tmp_path / "cache"))


# The only rows where QueryGym's loader changed the file's text: each ends in a space that its
# `.strip()` (querygym/data/dataloader.py:77) removed before Pyserini searched it.
STRIPPED = {("qa_expand", "earth_science", "59"), ("query2doc-cot", "earth_science", "78"), ("query2doc-cot", "robotics", "40"),
            ("mugi", "stackoverflow", "104"), ("query2doc-fs", "sustainable_living", "34")}


def test_all_70_runs_reproduce_the_published_files_byte_for_byte(shared_qg, shared_bright, tmp_path):
    """The file's rows, read with the csv module and written back the way QueryGym writes a queries
    file (csv.writer, tab-delimited: querygym/data/dataloader.py:332-336), give its bytes exactly; the
    rewriter returns those texts for every BRIGHT query of the task, stripped as QueryGym's loader
    strips them (5 of 7,490 change: a trailing space)."""
    src = LocalSource(shared_bright)
    variants = sorted({v for v, _ in qgp.RUNS})
    assert len(variants) == 10 and len(qgp.RUNS) == 70
    stripped = set()
    for variant in variants:
        rw = _rewriter(variant, tmp_path, folder=shared_qg)
        for task in qgp.TASKS:
            published = gzip.decompress((shared_qg / (qgp.relpath(*_split(variant), task) + ".gz")).read_bytes())
            raw = list(csv.reader(io.StringIO(published.decode("utf-8"), newline=""), delimiter="\t"))
            buf = io.StringIO(newline="")
            csv.writer(buf, delimiter="\t").writerows(raw)
            assert buf.getvalue().encode("utf-8") == published, (variant, task)
            qs = [Query(task, e.id, e.query) for e in src.examples(task)]
            assert sorted(q.id for q in qs) == sorted(qid for qid, _ in raw)
            ours = dict(zip([q.id for q in qs], rw.rewrite(qs)))
            for qid, text in raw:
                assert ours[qid] == text.strip()
                if ours[qid] != text:
                    stripped.add((variant, task, qid))
    assert stripped == STRIPPED


def test_texts_equal_querygyms_own_reader(shared_qg, tmp_path):
    querygym = pytest.importorskip("querygym")
    rw = _rewriter("mugi", tmp_path, folder=shared_qg)
    plain = tmp_path / "q.tsv"
    plain.write_bytes(gzip.decompress((shared_qg / (qgp.relpath("mugi", None, "robotics") + ".gz")).read_bytes()))
    theirs = {q.qid: q.text for q in querygym.DataLoader.load_queries(plain, format="tsv")}
    assert rw.texts("robotics") == theirs


class FileServer:
    def __init__(self, files: dict[str, bytes]):
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.hits.append(self.path)
                body = files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def test_downloaded_once_checked_and_then_served_from_the_cache(shared_qg, monkeypatch, tmp_path):
    rel = qgp.relpath("query2doc", "cot", "economics")
    body = gzip.decompress((shared_qg / (rel + ".gz")).read_bytes())
    srv = FileServer({f"/{qgp.REPO}/{qgp.COMMIT}/reproducibility/data/runs/{rel}": body})
    monkeypatch.setattr(qgp, "BASE_URL", srv.url)
    try:
        rw = _rewriter("query2doc-cot", tmp_path)
        assert rw.name == "qg-gpt-4.1:query2doc@published(mode=cot)"
        first = rw.texts("economics")
        assert len(first) == 103 and len(srv.hits) == 1
        again = _rewriter("query2doc-cot", tmp_path).texts("economics")  # a new instance: the cache, no request
        assert again == first and len(srv.hits) == 1
        with pytest.raises(BrightEvalError, match="download of .* failed .*folder="):
            _rewriter("query2doc-zs", tmp_path).texts("economics")  # 404: not served
    finally:
        srv.httpd.shutdown()


def test_bytes_with_another_sha256_are_refused(shared_qg, monkeypatch, tmp_path):
    rel = qgp.relpath("mugi", None, "biology")
    body = gzip.decompress((shared_qg / (rel + ".gz")).read_bytes()).replace(b"neurons", b"NEURONS", 1)
    srv = FileServer({f"/{qgp.REPO}/{qgp.COMMIT}/reproducibility/data/runs/{rel}": body})
    monkeypatch.setattr(qgp, "BASE_URL", srv.url)
    try:
        with pytest.raises(BrightEvalError, match="sha256 .* expected 8f5a546f"):
            _rewriter("mugi", tmp_path).texts("biology")
    finally:
        srv.httpd.shutdown()
    local = tmp_path / "copy" / rel
    local.parent.mkdir(parents=True)
    local.write_bytes(body)
    with pytest.raises(BrightEvalError, match=f"{local.name}: sha256 .* expected 8f5a546f.*not used"):
        _rewriter("mugi", tmp_path, folder=tmp_path / "copy").texts("biology")


def test_tasks_and_queries_outside_the_runs_are_errors(shared_qg, tmp_path):
    rw = _rewriter("genqr", tmp_path, folder=shared_qg)
    with pytest.raises(BrightEvalError, match="biology, earth_science.* only, not for 'leetcode'"):
        rw.rewrite([Query("leetcode", "1", "q")])
    with pytest.raises(BrightEvalError, match=r"no query for 1 of 1 queries \(biology/nope\)"):
        rw.rewrite([Query("biology", "nope", "q")])


def test_the_folder_changes_nothing_in_the_identity(shared_qg, tmp_path):
    a = _rewriter("lamer", tmp_path, folder=shared_qg)
    b = _rewriter("lamer", tmp_path)
    assert a.name == b.name == "qg-gpt-4.1:lamer@published" and a.spec() == b.spec()
    assert a.spec()["sha256"]["biology"] == qgp.RUNS[("lamer", "biology")][1]
