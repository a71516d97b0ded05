"""A package installed beside bright-eval adds components through entry points, used like built-ins by
the CLI and the API; a broken plugin is one warning, never a crash of unrelated commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

PLUGIN = '''
"""A toy retriever plugin: every document scores its number of shared lower-cased words."""
from typing import Annotated

from annotated_types import Ge


def make_overlap(cache=None, boost: Annotated[float, Ge(0)] = 1.0):
    """word-overlap retriever (a plugin test)"""
    return Overlap(boost)


make_overlap.operational = ()


class Overlap:
    name = "overlap"

    def __init__(self, boost):
        self.boost, self.docs = boost, {}

    def spec(self):
        return {"name": "overlap", "boost": self.boost}

    def index(self, corpus):
        self.docs = {d: set(t.lower().split()) for d, t in zip(corpus.ids, corpus.texts)}

    def search(self, queries, k=1000, exclude=None):
        out = {}
        for qid, text in queries.items():
            words, skip = set(text.lower().split()), (exclude or {}).get(qid, set())
            scores = {d: self.boost * len(words & w) for d, w in self.docs.items() if d not in skip}
            out[qid] = dict(sorted(scores.items(), key=lambda kv: -kv[1])[:k])
        return out


def broken(cache=None):
    """a plugin whose module imports fine but whose declaration is unusable"""


def not_a_factory():
    pass


NOT_CALLABLE = 42
'''


@pytest.fixture(scope="module")
def plugin_installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("plugin")
    (root / "be_overlap").mkdir()
    (root / "be_overlap" / "__init__.py").write_text(PLUGIN)
    (root / "pyproject.toml").write_text(textwrap.dedent('''
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "be-overlap-plugin"
        version = "0.0.1"
        [project.entry-points."bright_eval.retrievers"]
        overlap = "be_overlap:make_overlap"
        broken = "be_overlap:NOT_CALLABLE"
        bm25 = "be_overlap:make_overlap"
        [project.entry-points."bright_eval.rerankers"]
        missing = "be_overlap.nowhere:thing"
        [tool.setuptools]
        packages = ["be_overlap"]
    '''))
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "--no-deps", "--no-build-isolation", "--no-index", str(root)], check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run([*pip, "uninstall", "-y", "be-overlap-plugin"], check=True, capture_output=True)


def cli(*args, cwd=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "2000"}  # one warning per line, unwrapped
    return subprocess.run([sys.executable, "-c", "from bright_eval.cli import main; main()", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env)


def test_listing_names_the_plugin_and_its_package_and_warns_once_per_broken_plugin(plugin_installed):
    res = cli("retrievers")
    assert res.returncode == 0, res.stderr
    assert "overlap" in res.stdout and "be-overlap-plugin" in res.stdout.replace("\n", "")
    assert "boost=1.0 (number >= 0)" in res.stdout
    assert "retriever plugin 'broken' from be-overlap-plugin" in res.stderr and "not a factory" in res.stderr
    assert "retriever plugin 'bm25' from be-overlap-plugin" in res.stderr and "taken by bright-eval" in res.stderr
    assert "Traceback" not in res.stderr
    res = cli("rerankers")  # a plugin that cannot be imported: a warning, and the command works
    assert res.returncode == 0 and "reranker plugin 'missing'" in res.stderr and "Traceback" not in res.stderr


def test_plugin_runs_through_the_cli_with_typed_options(plugin_installed, tiny_bright, tmp_path):
    res = cli("run", "--retriever", "overlap(boost=2)", "--tasks", "biology", "--data-dir", tiny_bright,
              "--results-dir", tmp_path / "r", "--cache-dir", tmp_path / "c", "--format", "json")
    assert res.returncode == 0, res.stderr
    assert 0 <= json.loads(res.stdout)["biology"]["ndcg@10"] <= 1
    [rec] = [json.loads(p.read_text()) for p in (tmp_path / "r").rglob("biology.json")]
    assert rec["retriever"] == "overlap(boost=2.0)" and rec["identity"]["retriever"] == {"name": "overlap", "boost": 2.0}
    res = cli("run", "--retriever", "overlap(boost=-1)", "--tasks", "biology", "--data-dir", tiny_bright, "--results-dir", tmp_path / "r")
    assert res.returncode == 2 and "retriever 'overlap': option boost=-1 is not allowed" in res.stderr


def test_plugin_runs_through_the_api_with_the_cli_numbers(plugin_installed, tiny_bright, tmp_path):
    code = (f"import bright_eval as be, json; r = be.run(retriever='overlap(boost=2)', tasks='biology', data_dir=r'{tiny_bright}', "
            f"results_dir=r'{tmp_path / 'api'}', cache_dir=r'{tmp_path / 'c'}'); print(json.dumps(r.records[0].metrics))")
    api = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert api.returncode == 0, api.stderr
    res = cli("run", "--retriever", "overlap(boost=2)", "--tasks", "biology", "--data-dir", tiny_bright,
              "--results-dir", tmp_path / "cli", "--cache-dir", tmp_path / "c", "--format", "json")
    assert json.loads(api.stdout) == json.loads(res.stdout)["biology"]


