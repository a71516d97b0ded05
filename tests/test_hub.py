"""The hub path, for real and offline: a local dataset repository in xlangai/BRIGHT's layout (real
BRIGHT examples, TongSearch-QR's released rewrites as a `*_reason` config, proxy documents) is read
through the real `datasets.load_dataset` and gives what the same data gives through `--data-dir`;
`data export` round-trips; an unreachable hub fails in seconds with one message."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bright_eval.data import HubSource, LocalSource, get_source, has_split, reasoning_names
from bright_eval.errors import BrightEvalError
from bright_eval.hub import cached_revisions, local_revision, offline_datasets, split_file, write_hub_repo

REPO_ROOT = Path(__file__).resolve().parent.parent
PROXY_TASKS = ("biology", "economics")
EXAMPLE_ONLY = ("aops", "theoremqa_theorems")  # real examples (aops: ~5.6k excluded ids per query), no documents


def _git(path: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True, text=True, env=env).stdout.strip()


@pytest.fixture(scope="module")
def data_dir(make_proxy, shared_bright, tmp_path_factory) -> Path:
    """A --data-dir folder: the proxy for two tasks, plus two tasks of real examples without documents."""
    d = make_proxy(tmp_path_factory.mktemp("data"), 12, PROXY_TASKS)
    for task in EXAMPLE_ONLY:
        shutil.copytree(shared_bright / task, d / task)
    return d


@pytest.fixture(scope="module")
def hub_repo(data_dir, tmp_path_factory) -> Path:
    """The same data as a dataset repository in BRIGHT's layout, committed to git (as a clone of the hub repo is)."""
    repo = tmp_path_factory.mktemp("hubrepo")
    configs = write_hub_repo(LocalSource(data_dir), repo, PROXY_TASKS + EXAMPLE_ONLY, ["TongSearch-QR-7B"])
    assert configs == {"examples": list(PROXY_TASKS + EXAMPLE_ONLY), "documents": list(PROXY_TASKS),
                       "TongSearch-QR-7B_reason": list(PROXY_TASKS + EXAMPLE_ONLY)}
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "mirror")
    return repo


@pytest.fixture(autouse=True)
def _datasets_cache(tmp_path_factory, monkeypatch):
    # HubSource reads HF_DATASETS_CACHE when created: the tests never touch the user's datasets cache.
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path_factory.getbasetemp() / "hf-datasets"))
    monkeypatch.delenv("BRIGHT_DATA_DIR", raising=False)
    monkeypatch.delenv("BRIGHT_HUB_REPO", raising=False)


def test_layout_is_brights(hub_repo):
    for config in ("examples", "documents", "TongSearch-QR-7B_reason"):
        for task in PROXY_TASKS:
            assert (hub_repo / config / f"{task}-00000-of-00001.parquet").is_file()
    card = (hub_repo / "README.md").read_text()
    meta = yaml.safe_load(card.split("---\n")[1])
    configs = {c["config_name"]: {f["split"]: f["path"] for f in c["data_files"]} for c in meta["configs"]}
    assert configs["examples"]["aops"] == split_file("examples", "aops") == "examples/aops-00000-of-00001.parquet"
    import datasets
    import pyarrow.parquet as pq

    assert set(datasets.get_dataset_config_names(str(hub_repo))) == set(configs)
    # BRIGHT's field order and its "N/A" placeholder for empty lists, as on the hub
    table = pq.read_table(hub_repo / "examples" / "biology-00000-of-00001.parquet")
    assert table.column_names == ["query", "reasoning", "id", "excluded_ids", "gold_ids_long", "gold_ids", "gold_answer"]
    assert table.column("excluded_ids")[0].as_py() == ["N/A"]


def test_hub_source_reads_what_the_folder_holds(hub_repo, data_dir):
    hub, local = HubSource(str(hub_repo)), LocalSource(data_dir)
    for task in PROXY_TASKS + EXAMPLE_ONLY:
        assert hub.examples(task) == local.examples(task)
        want = local.reasoning(task, "TongSearch-QR-7B")
        got = hub.reasoning(task, "TongSearch-QR-7B")
        assert got == {e.id: want[e.id] for e in local.examples(task)}
    aops = hub.examples("aops")
    assert sum(len(e.excluded_ids) for e in aops) == 622_756 and all("N/A" not in e.excluded_ids for e in aops)
    for task in PROXY_TASKS:
        h, l = hub.documents(task), local.documents(task)
        assert (h.ids, h.texts) == (l.ids, l.texts)
        # Each source names content its own cheap way: the hub by its commit, a folder by the file's bytes.
        assert h.fingerprint == hub.documents_fingerprint(task) and h.fingerprint.startswith(f"hub:{hub.revision_id}:")
    assert has_split(hub, "documents", "biology") is True and has_split(hub, "documents", "aops") is False
    assert has_split(hub, "examples", "pony") is False
    assert reasoning_names(hub) == ["TongSearch-QR-7B"]
    with pytest.raises(BrightEvalError, match="long_documents"):
        hub.documents("biology", long=True)


def test_results_through_the_hub_equal_the_data_dir(hub_repo, data_dir, tmp_path):
    """Same cells, three routes: --data-dir, the hub repository, and a folder exported from it."""
    from bright_eval.cache import ArtifactCache
    from bright_eval.cli import app
    from bright_eval.reproduce import Row, _run_row

    res = CliRunner().invoke(app, ["data", "export", "--hub-repo", str(hub_repo), "--to", str(tmp_path / "exported"),
                                   "--tasks", ",".join(PROXY_TASKS)])
    assert res.exit_code == 0, res.output
    sources = {"local": LocalSource(data_dir), "hub": get_source(hub_repo=str(hub_repo)), "exported": LocalSource(tmp_path / "exported")}
    assert isinstance(sources["hub"], HubSource)
    results = {}
    for rewriter in ("original", "bright:TongSearch-QR-7B"):
        row = Row(id="x", title="", rewriter=rewriter, retriever="bm25", kind="deterministic", tolerance=0.1, expected={},
                  source="", version="", via="", cite="", tasks=PROXY_TASKS)
        for name, src in sources.items():
            results[(rewriter, name)] = _run_row(row, src, tmp_path / "runs" / name, ArtifactCache(tmp_path / "cache"))
        base = results[(rewriter, "local")]
        assert set(base) == set(PROXY_TASKS) and all("error" not in m for m in base.values())
        assert 0 < base["biology"]["ndcg@10"] < 1
        assert results[(rewriter, "hub")] == base and results[(rewriter, "exported")] == base
    assert results[("original", "local")] != results[("bright:TongSearch-QR-7B", "local")]
    # Every results file says which BRIGHT it came from: the hub commit, or none for a folder.
    from bright_eval.results import load_results

    assert {r.data["revision"] for r in load_results(tmp_path / "runs" / "hub")} == {sources["hub"].revision_id}
    assert {r.data["revision"] for r in load_results(tmp_path / "runs" / "local")} == {None}


def test_export_round_trip_is_byte_identical(hub_repo, data_dir, tmp_path):
    """folder -> hub layout (CLI) -> folder: the same examples, qrels, documents and rewrites."""
    from bright_eval.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["data", "export", "--data-dir", str(data_dir), "--layout", "hub", "--to", str(tmp_path / "repo"),
                              "--tasks", ",".join(PROXY_TASKS)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["data", "export", "--hub-repo", str(tmp_path / "repo"), "--to", str(tmp_path / "back"),
                              "--tasks", ",".join(PROXY_TASKS)])
    assert res.exit_code == 0, res.output
    import gzip
    import json

    for task in PROXY_TASKS:
        for name in ("examples.jsonl", "qrels.txt"):
            assert (tmp_path / "back" / task / name).read_bytes() == (data_dir / task / name).read_bytes()
        docs = [gzip.open(d / task / "documents.jsonl.gz").read() for d in (data_dir, tmp_path / "back")]
        assert docs[0] == docs[1]
        ids = {json.loads(line)["id"] for line in (data_dir / task / "examples.jsonl").open()}
        for set_name in ("TongSearch-QR-7B", "TongSearch-QR-1.5B"):
            src = LocalSource(data_dir).reasoning(task, set_name)
            assert LocalSource(tmp_path / "back").reasoning(task, set_name) == {k: v for k, v in src.items() if k in ids}
    meta = json.loads((tmp_path / "back" / "SOURCE.json").read_text())
    assert meta["source"] == f"hub:{(tmp_path / 'repo').resolve()}" and meta["revision_id"].startswith("folder:")


def test_revision_id_and_revision_pin(hub_repo, tmp_path):
    head = _git(hub_repo, "rev-parse", "HEAD")
    assert HubSource(str(hub_repo)).revision_id == head
    assert HubSource(str(hub_repo), revision=head[:10]).revision_id == head
    with pytest.raises(BrightEvalError, match="--revision"):
        HubSource(str(hub_repo), revision="0" * 40).examples("biology")
    copy = tmp_path / "copy"
    shutil.copytree(hub_repo, copy, ignore=shutil.ignore_patterns(".git"))
    first = local_revision(copy)
    assert first.startswith("folder:") and local_revision(copy) == first
    (copy / "examples" / "aops-00000-of-00001.parquet").unlink()
    assert local_revision(copy) != first
    with pytest.raises(BrightEvalError, match="--revision"):
        get_source(data_dir=str(copy), revision="main")


def test_offline_uses_the_datasets_cache_or_says_how_to_work_without(tmp_path):
    """With the hub off (HF_HUB_OFFLINE, here switched on in-process), a copy in the datasets cache is
    read and its commit is the revision; with none, the one message names the ways out."""
    import datasets.config
    import huggingface_hub.constants

    before = (datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE)
    sha = "a" * 40
    (tmp_path / "xlangai___bright" / "examples" / "0.0.0" / sha).mkdir(parents=True)
    assert cached_revisions("xlangai/BRIGHT", str(tmp_path)) == [sha]
    with offline_datasets():
        src = HubSource("xlangai/BRIGHT", cache_dir=str(tmp_path))
        assert src.check() == "cache" and src.revision_id == sha
        empty = HubSource("xlangai/BRIGHT", cache_dir=str(tmp_path / "empty"))
        with pytest.raises(BrightEvalError) as exc:
            empty.examples("biology")
    msg = str(exc.value)
    assert "offline mode" in msg and "--data-dir" in msg and "data export" in msg and "data proxy" in msg
    assert (datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE) == before  # restored


@pytest.mark.parametrize("argv", [["run", "--tasks", "biology", "--results-dir", "runs"], ["data", "check", "--tasks", "biology"],
                                  ["reproduce", "bm25-original", "--results-dir", "runs", "--out", "out"]])
def test_unreachable_hub_fails_fast_with_one_message(argv, tmp_path):
    """The network made unreachable (HF_ENDPOINT at a closed local port, nothing leaves the machine):
    the run ends within seconds, with one error line and no retry chatter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "BRIGHT_DATA", "BRIGHT_HUB"))}
    env.update(HF_ENDPOINT="http://127.0.0.1:9", HF_HOME=str(tmp_path / "hf"), PYTHONPATH=str(REPO_ROOT),
               BRIGHT_EVAL_CACHE=str(tmp_path / "cache"), COLUMNS="200")
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-c", "from bright_eval.cli import main; main()", *argv],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    elapsed = time.monotonic() - t0
    assert res.returncode != 0
    text = res.stdout + res.stderr
    assert elapsed < 20, f"took {elapsed:.1f} s"
    assert text.count("error:") == 1, text
    for needed in ("--data-dir", "data export", "data proxy", "127.0.0.1:9"):
        assert needed in text, text
    assert "retry" not in text.lower() and "Retrying" not in text, text
