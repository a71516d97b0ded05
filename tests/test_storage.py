"""Results on fsspec storage: the local filesystem through file://, the in-memory filesystem, and a real
S3 API server (moto's server mode on 127.0.0.1), with the same atomic-write and reuse rules as a folder."""

from __future__ import annotations

import json
import uuid

import pytest

from bright_eval import storage
from bright_eval.cache import ArtifactCache
from bright_eval.data import LocalSource
from bright_eval.errors import BrightEvalError
from bright_eval.execute import RUN_LOG, execute
from bright_eval.experiment import build_request
from bright_eval.plan import make_plan
from bright_eval.results import load_results

fsspec = pytest.importorskip("fsspec")


@pytest.fixture(scope="module")
def data(make_proxy, tmp_path_factory):
    return make_proxy(tmp_path_factory.mktemp("proxy"), 6, ("biology",))


def _matrix(results, data, cache_root):
    req = build_request(["original", "bright:TongSearch-QR-1.5B"], ["bm25"], "biology", top_k=20)
    return execute(make_plan(req, LocalSource(data), results, ArtifactCache(cache_root)))


def _tree(place) -> dict[str, bytes]:
    if isinstance(place, storage.Location):
        fs, root = place.fs, place.path.rstrip("/")
        return {p[len(root):].lstrip("/"): fs.cat_file(p) for p in fs.find(root)}
    return {str(p.relative_to(place)): p.read_bytes() for p in place.rglob("*") if p.is_file()}


def _strip(files: dict[str, bytes]) -> dict[str, object]:
    out = {}
    for name, raw in files.items():
        if name == RUN_LOG:
            continue
        if name.endswith(".json"):
            obj = json.loads(raw)
            obj.pop("timings"), obj.pop("environment")
            out[name] = obj
        else:
            out[name] = raw
    return out


@pytest.mark.parametrize("scheme", ["file", "memory"])
def test_results_on_fsspec_equal_a_folder_and_are_reused(scheme, data, tmp_path):
    local = tmp_path / "local"
    url = f"file://{tmp_path}/remote" if scheme == "file" else f"memory://bright-{uuid.uuid4().hex}/runs"
    cells = _matrix(local, data, tmp_path / "c")
    remote = storage.location(url)
    cells2 = _matrix(remote, data, tmp_path / "c")
    assert [c.status for c in cells] == [c.status for c in cells2] == ["done", "done"]
    assert cells2[0].path.startswith(url.split("://")[0] + "://")
    a, b = _tree(local), _tree(remote)
    assert sorted(a) == sorted(b) and len(a) == 5  # 2 results, 2 runs, 1 run log
    assert _strip(a) == _strip(b)
    assert not [n for n in b if n.endswith(".tmp")]  # no temporary key left behind
    assert [r.task for r in load_results(remote)] == ["biology", "biology"]
    # The reuse rule reads results back through the same URL.
    again = _matrix(url, data, tmp_path / "c")
    assert [c.status for c in again] == ["reused", "reused"]
    assert len(storage.location(url + "/" + RUN_LOG).read_text().splitlines()) == 2


def test_atomic_write_never_shows_half_a_file(tmp_path, monkeypatch):
    place = storage.location(f"file://{tmp_path}/r") / "x.json"
    storage.write_json(place, {"v": 1})

    def broken_mv(self, *a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(type(place.fs), "mv", broken_mv)
    with pytest.raises(OSError):
        storage.write_json(place, {"v": 2})
    assert json.loads(place.read_text()) == {"v": 1}  # the old file, whole
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["x.json"]  # the temporary key was removed


def test_unwritable_url_is_one_clear_error(tmp_path):
    with pytest.raises(BrightEvalError, match="no filesystem for 'nosuchproto://'|not writable"):
        storage.check_writable(storage.location("nosuchproto://bucket/runs"), "--results-dir")
    (tmp_path / "f").write_text("a file in the way")
    with pytest.raises(BrightEvalError, match="--results-dir .*not writable"):
        storage.check_writable(storage.location(f"file://{tmp_path}/f/runs"), "--results-dir")


def test_results_on_s3(s3_server, data, tmp_path):
    url = f"{s3_server}/runs"
    cells = _matrix(url, data, tmp_path / "c")
    assert [c.status for c in cells] == ["done", "done"]
    remote = storage.location(url)
    assert remote.is_object_store
    files = _tree(remote)
    assert len(files) == 5 and not [n for n in files if ".tmp" in n]
    local = tmp_path / "local"
    _matrix(local, data, tmp_path / "c")
    assert _strip(files) == _strip(_tree(local))
    assert [c.status for c in _matrix(url, data, tmp_path / "c")] == ["reused", "reused"]
    assert len((remote / RUN_LOG).read_text().splitlines()) == 2
