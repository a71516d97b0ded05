"""Shared fixtures. Real BRIGHT data comes from ../shared/bright (CI checks it out beside the repo);
set BRIGHT_SHARED to point elsewhere."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from bright_eval.data import LocalSource

REPO = Path(__file__).resolve().parent.parent
# helpers beside the tests (stub_openai, cli_invoke) import as top-level modules in every test file
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _shared_bright() -> Path:
    env = os.environ.get("BRIGHT_SHARED")
    return Path(env) if env else REPO.parent / "shared" / "bright"


@pytest.fixture(scope="session")
def shared_bright() -> Path:
    path = _shared_bright()
    if not (path / "biology" / "examples.jsonl").exists():
        pytest.fail(f"real BRIGHT data not found at {path}; set BRIGHT_SHARED")
    return path


@pytest.fixture(scope="session")
def tiny_bright() -> Path:
    """A committed BRIGHT-layout folder (biology, leetcode with excluded_ids, pony; ~12 docs each), for
    tests that need documents but not ../shared. Read-only: copy it to tmp_path before changing it."""
    return REPO / "tests" / "fixtures" / "tiny_bright"


@pytest.fixture(scope="session")
def proxy_dir(shared_bright, tmp_path_factory) -> Path:
    """The answer-retrieval proxy (749 real questions -> their real accepted answers)."""
    from bright_eval.data import LocalSource
    from bright_eval.proxy import build_proxy

    out = tmp_path_factory.mktemp("proxy")
    build_proxy(LocalSource(shared_bright), out)
    return out


class _Head(LocalSource):
    """The first `n` answered questions of each task of a real BRIGHT folder."""

    def __init__(self, root: Path, n: int):
        super().__init__(root)
        self.n = n
        self.description = f"head{n}:{root}"

    def examples(self, task):
        return [e for e in super().examples(task) if e.gold_answer.strip()][: self.n]


@pytest.fixture(scope="session")
def make_proxy(shared_bright):
    """Builds a small answer-retrieval proxy: `make_proxy(out, n, tasks)` -> out."""
    from bright_eval.proxy import build_proxy

    def make(out: Path, n: int, tasks: tuple[str, ...]) -> Path:
        build_proxy(_Head(shared_bright, n), out, tasks=tasks)
        return out

    return make


@pytest.fixture(autouse=True)
def _isolate_cache(tmp_path, monkeypatch):
    # Tests never read or write the user's real cache.
    monkeypatch.setenv("BRIGHT_EVAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("BRIGHT_EVAL_NO_PROGRESS", "1")


@pytest.fixture
def cli_env(tmp_path, tiny_bright, monkeypatch, capsys):
    """(data, run): a writable copy of tiny_bright and `run(*args) -> (exit code, stdout, stderr)`, the
    real CLI in process with a private cache, offline, from tmp_path."""
    import shutil

    from cli_invoke import invoke

    data = tmp_path / "data"
    shutil.copytree(tiny_bright, data)
    monkeypatch.setenv("BRIGHT_EVAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for var in ("BRIGHT_DATA_DIR", "BRIGHT_RESULTS_DIR", "OPENAI_BASE_URL", "RAY_ADDRESS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)

    def run(*args) -> tuple[int, str, str]:
        return invoke(monkeypatch, capsys, *args)

    return data, run


@pytest.fixture(scope="session")
def explore_runs(tiny_bright, tmp_path_factory) -> tuple[Path, Path]:
    """(data dir, results dir): `matrix` results for the explorer's tests (tests/explore_fixture.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("explore_fixture", REPO / "tests" / "explore_fixture.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.build(tiny_bright, tmp_path_factory.mktemp("explore"))


@pytest.fixture
def s3_server(monkeypatch):
    """A real S3 API (moto's server) on 127.0.0.1, credentials from the environment as on a worker."""
    pytest.importorskip("s3fs")
    server_mod = pytest.importorskip("moto.server")
    fsspec = pytest.importorskip("fsspec")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # moto keeps its buckets in the process, across server instances: start every test from an empty store
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST"), timeout=10).close()
    for k, v in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
                 "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}.items():
        monkeypatch.setenv(k, v)
    fsspec.config.conf.pop("s3", None)
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.mkdir("bright-results")
    try:
        yield "s3://bright-results"
    finally:
        server.stop()
        fsspec.filesystem("s3").clear_instance_cache()
