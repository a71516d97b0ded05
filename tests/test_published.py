"""`tsqr-*@published`: download once over HTTPS (a local server stands in for raw.githubusercontent.com),
check the sha256, cache; offline, fall back to the data source's reasoning folder and say so."""

import hashlib
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bright_eval.cache import ArtifactCache
from bright_eval.data import LocalSource
from bright_eval.errors import BrightEvalError
from bright_eval.rewriters import REWRITERS, Query, published


def pony(shared_bright):
    src = LocalSource(shared_bright)
    reasoning = src.reasoning("pony", "TongSearch-QR-7B")
    qs = [Query("pony", e.id, e.query) for e in src.examples("pony")]
    return qs, {q.text: reasoning[q.id] for q in qs}


class FileServer:
    def __init__(self, body: bytes):
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture()
def release(shared_bright, monkeypatch):
    """A stand-in release file (pony's rewrites in TongSearch-QR's JSON format) pinned by its sha256."""
    qs, mapping = pony(shared_bright)
    body = json.dumps(mapping, ensure_ascii=False, indent=4).encode()
    name, path, _, _ = published.FILES["tsqr-7b"]
    monkeypatch.setitem(published.FILES, "tsqr-7b", (name, path, hashlib.sha256(body).hexdigest(), len(body)))
    srv = FileServer(body)
    monkeypatch.setattr(published, "BASE_URL", srv.url)
    yield qs, mapping, srv
    srv.httpd.shutdown()


def test_downloaded_once_checked_and_served_from_the_cache(release, shared_bright, tmp_path):
    qs, mapping, srv = release
    rw = REWRITERS.create("tsqr-7b@published", cache=ArtifactCache(tmp_path), source=LocalSource(shared_bright))
    assert rw.rewrite(qs) == [mapping[q.text] for q in qs]
    assert srv.hits == [f"/bigai-nlco/TongSearch-QR/{published.COMMIT}/data_evaluation/TongSearch-QR-7B_reasoned_BRIGHT_queries.json"]
    spec = rw.spec()
    assert (spec["kind"], spec["commit"], spec["sha256"]) == ("published", published.COMMIT, published.FILES["tsqr-7b"][2])
    srv.httpd.shutdown()  # offline from now on: the cached, verified copy is used
    again = REWRITERS.create("tsqr-7b@published", cache=ArtifactCache(tmp_path))
    assert again.rewrite(qs) == [mapping[q.text] for q in qs] and again.spec() == spec
    assert again.name == "tsqr-7b@published"


def test_a_file_with_other_bytes_is_refused(release, tmp_path, monkeypatch):
    name, path, _, size = published.FILES["tsqr-7b"]
    monkeypatch.setitem(published.FILES, "tsqr-7b", (name, path, "0" * 64, size))
    rw = REWRITERS.create("tsqr-7b@published", cache=ArtifactCache(tmp_path))
    with pytest.raises(BrightEvalError, match="sha256 .* expected 0000"):
        rw.rewrite(release[0][:1])
    assert not (tmp_path / "published").exists()


def test_offline_falls_back_to_the_reasoning_folder_and_says_so(shared_bright, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(published, "BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    qs, mapping = pony(shared_bright)
    rw = REWRITERS.create("tsqr-7b@published", cache=ArtifactCache(tmp_path), source=LocalSource(shared_bright))
    with caplog.at_level(logging.WARNING):
        assert rw.rewrite(qs) == [mapping[q.text] for q in qs]
    assert "download of http://127.0.0.1:9/" in caplog.text and "reasoning/TongSearch-QR-7B.jsonl instead" in caplog.text
    assert rw.spec()["fallback"].endswith("reasoning/TongSearch-QR-7B") and "sha256" not in rw.spec()


def test_offline_without_the_files_is_one_clear_error(shared_bright, tmp_path, monkeypatch):
    monkeypatch.setattr(published, "BASE_URL", "http://127.0.0.1:9")
    bare = tmp_path / "bare" / "pony"
    bare.mkdir(parents=True)
    (bare / "examples.jsonl").write_text((shared_bright / "pony" / "examples.jsonl").read_text())
    qs, _ = pony(shared_bright)
    rw = REWRITERS.create("tsqr-1.5b@published", cache=ArtifactCache(tmp_path / "c"), source=LocalSource(tmp_path / "bare"))
    with pytest.raises(BrightEvalError, match=r"download of .* failed .*fallback failed: .*no reasoning file for 'TongSearch-QR-1.5B'"):
        rw.rewrite(qs)
