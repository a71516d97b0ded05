"""Bad experiment files and damaged results folders, through the real CLI (in process): a bad TOML
value exits 2 with one stderr line naming the file, the key, the value and what was expected; a
damaged results record is skipped with a warning naming the file and the field while the other
records are still used; `evaluate` never files two run files under one name."""

from __future__ import annotations

import gzip
import json
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_invoke import invoke

from bright_eval.errors import BrightEvalError
from bright_eval.experiment import read_config

BASE = {"rewriters": '["original"]', "retrievers": '["bm25"]', "tasks": '["biology"]', "data_dir": '"data"',
        "results_dir": '"r"', "cache_dir": '"cache"'}




@pytest.fixture
def env(tmp_path, tiny_bright, monkeypatch, capsys):
    shutil.copytree(tiny_bright, tmp_path / "data")
    monkeypatch.setenv("BRIGHT_EVAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.delenv("BRIGHT_DATA_DIR", raising=False)
    monkeypatch.delenv("BRIGHT_RESULTS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    return lambda *args: invoke(monkeypatch, capsys, *args)


def toml(before: str = "", drop: tuple[str, ...] = (), after: str = "", **over: str) -> str:
    """A valid experiment file with some keys replaced (TOML source text), dropped or added."""
    keys = {**BASE, **over}
    body = "".join(f"{k} = {v}\n" for k, v in keys.items() if k not in drop)
    return f"{before}[matrix]\n{body}{after}"


# -- experiment files --------------------------------------------------------------------------------------
@dataclass
class TomlCase:
    id: str
    text: str
    expect: tuple[str, ...]  # each in the one stderr line, after the file's path


TOML_CASES = [
    TomlCase("matrix-is-a-number", "matrix = 5\n", ("key 'matrix' = 5", "expected a table")),
    TomlCase("tasks-number", toml(tasks="5"), ("key 'matrix.tasks' = 5", "expected", "task names")),
    TomlCase("tasks-list-of-number", toml(tasks="[5]"), ("key 'matrix.tasks' = [5]", "task names")),
    TomlCase("tasks-unknown", toml(tasks='["bilogy"]'), ("key 'matrix.tasks'", "unknown task 'bilogy'")),
    TomlCase("top-k-string", toml(top_k='"100"'), ("key 'matrix.top_k' = \"100\"", "expected a positive integer")),
    TomlCase("top-k-float", toml(top_k="1.5"), ("key 'matrix.top_k' = 1.5", "expected a positive integer")),
    TomlCase("top-k-bool", toml(top_k="true"), ("key 'matrix.top_k' = true", "expected a positive integer")),
    TomlCase("top-k-zero", toml(top_k="0"), ("key 'matrix.top_k' = 0", "expected a positive integer")),
    TomlCase("rerank-depth-string", toml(rerank_depth='"ten"'), ("key 'matrix.rerank_depth' = \"ten\"", "positive integer")),
    TomlCase("long-documents-string", toml(long_documents='"yes"'), ("key 'matrix.long_documents' = \"yes\"", "true or false")),
    TomlCase("rerank-query-other", toml(rerank_query='"both"'), ("key 'matrix.rerank_query' = \"both\"", "original", "rewritten")),
    TomlCase("results-dir-bool", toml(results_dir="true"), ("key 'matrix.results_dir' = true", "expected a folder path or URL")),
    TomlCase("cache-dir-list", toml(cache_dir='["a"]'), ("key 'matrix.cache_dir' = [\"a\"]", "expected a folder path")),
    TomlCase("data-dir-empty", toml(data_dir='""'), ("key 'matrix.data_dir' = \"\"", "expected a folder path")),
    TomlCase("executor-unknown", toml(executor='"slurm"'), ("key 'matrix.executor' = \"slurm\"", "local", "ray")),
    TomlCase("retrievers-number", toml(retrievers="5"), ("key 'matrix.retrievers' = 5", "list of names")),
    TomlCase("retrievers-empty", toml(retrievers="[]"), ("key 'matrix.retrievers' = []", "at least one")),
    TomlCase("unknown-key", toml(after="topk = 10\n"), ("unknown key 'matrix.topk'", "did you mean 'top_k'")),
    TomlCase("top-level-key-beside-matrix", toml(before="top_k = 10\n"), ("key 'top_k' is outside the 'matrix' table",)),
    TomlCase("top-level-table-beside-matrix", toml() + "[retriever_args.bm25]\nk1 = 1\n",
             ("key 'retriever_args' is outside the 'matrix' table",)),
    TomlCase("args-table-misspelt", toml(after="[matrix.retriever_args.bm52]\nk1 = 1\n"),
             ("table 'matrix.retriever_args.bm52'", "not one of the retrievers listed (bm25)", "did you mean 'bm25'")),
    TomlCase("args-table-for-unlisted", toml(retrievers='["bm25(k1=1)"]', after="[matrix.retriever_args.bm25-lucene]\nk1 = 1\n"),
             ("table 'matrix.retriever_args.bm25-lucene'", "not one of the retrievers listed (bm25)")),
    TomlCase("args-table-not-a-table", toml(after="[matrix.reranker_args]\nembed = 5\n"),
             ("key 'matrix.reranker_args.embed' = 5", "expected a table of options")),
    TomlCase("alias-and-name-both", toml(after="[matrix.retriever_args.bm25]\nk1 = 1\n[matrix.retriever_options.bm25]\nk1 = 2\n"),
             ("'matrix.retriever_options' and 'matrix.retriever_args'", "one of them")),
    TomlCase("resources-bad", toml(after='executor = "ray"\n[matrix.resources.llm]\nnum_gpus = "one"\n'),
             ("resources.llm.num_gpus", "number >= 0")),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in TOML_CASES])
def test_bad_experiment_file(case, env, tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text(case.text)
    code, out, err = env("matrix", "--config", path, "--format", "json")
    assert "Traceback" not in out + err
    assert code == 2, f"exit {code}\nstdout: {out}\nstderr: {err}"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: {path}: "), lines[0]
    for e in case.expect:
        assert e in lines[0], lines[0]
    assert not (tmp_path / "r").exists()  # refused before any work


def test_experiment_file_keeps_every_accepted_form(tmp_path):
    """Comma-separated strings are split like the CLI's lists (never inside parentheses); arrays are
    taken as they are; aliases, relative paths, URLs and resources still read."""
    (tmp_path / "exp").mkdir()
    cfg = tmp_path / "exp" / "e.toml"
    cfg.write_text('rewriters = "original, bright:TongSearch-QR-7B"\nretrievers = "bm25,fuse:rrf(bm25,bm25-lucene)"\n'
                   'tasks = "biology,pony"\ntop_k = 50\nlong_documents = false\nrerankers = ["embed:all-minilm-l6-v2"]\n'
                   'rerank_depth = 20\nrerank_query = "rewritten"\ndata_dir = "../data"\nresults_dir = "memory://runs"\n'
                   'cache_dir = "c"\nexecutor = "ray"\naddress = "auto"\n[resources.llm]\nnum_gpus = 1\n'
                   '[retriever_options."fuse:rrf(bm25,bm25-lucene)"]\nk = 60\n[rewriter_args."bright:TongSearch-QR-7B"]\n'
                   '[reranker_args."embed:all-minilm-l6-v2"]\nbatch_size = 8\n')
    conf = read_config(cfg)
    assert conf["rewriters"] == ["original", "bright:TongSearch-QR-7B"]
    assert conf["retrievers"] == ["bm25", "fuse:rrf(bm25,bm25-lucene)"]
    assert conf["tasks"] == ["biology", "pony"] and conf["top_k"] == 50 and conf["long_documents"] is False
    assert conf["rerankers"] == ["embed:all-minilm-l6-v2"] and conf["rerank_depth"] == 20 and conf["rerank_query"] == "rewritten"
    assert conf["data_dir"] == (tmp_path / "data").resolve() and conf["cache_dir"] == (tmp_path / "exp" / "c").resolve()
    assert conf["results_dir"] == "memory://runs"
    assert conf["executor"] == "ray" and conf["address"] == "auto" and conf["resources"] == {"llm": {"num_gpus": 1}}
    assert conf["retriever_args"] == {"fuse:rrf(bm25,bm25-lucene)": {"k": 60}}
    assert conf["reranker_args"] == {"embed:all-minilm-l6-v2": {"batch_size": 8}}
    # A table names a listed component by its spec; the inline options of the listed name do not count.
    cfg.write_text('[matrix]\nrewriters = ["original"]\nretrievers = ["bm25(k1=1.2)"]\n[matrix.retriever_args.bm25]\nb = 0.5\n')
    assert read_config(cfg)["retriever_args"] == {"bm25": {"b": 0.5}}
    # Without a list in the file (the CLI gives it), a table still names a registered component.
    cfg.write_text('[matrix]\n[matrix.retriever_args.bm25]\nb = 0.5\n')
    assert read_config(cfg)["retriever_args"] == {"bm25": {"b": 0.5}}
    cfg.write_text('[matrix]\n[matrix.retriever_args.bm52]\nb = 0.5\n')
    with pytest.raises(BrightEvalError, match=r"table 'matrix.retriever_args.bm52'.*unknown retriever 'bm52'.*Did you mean: bm25"):
        read_config(cfg)


# -- results folders read back -------------------------------------------------------------------------------
@pytest.fixture
def results(env, tmp_path):
    """A results folder with two records (bm25 on biology and pony) made by the real `run`."""
    code, out, err = env("run", "--tasks", "biology,pony", "--data-dir", tmp_path / "data", "--results-dir", tmp_path / "r",
                         "--format", "json")
    assert code == 0, err
    bio = tmp_path / "r" / "original" / "bm25" / "biology.json"
    assert bio.exists() and (tmp_path / "r" / "original" / "bm25" / "pony.json").exists()
    return env, bio


def _set(*keys, value):
    def fn(rec):
        obj = rec
        for k in keys[:-1]:
            obj = obj[k] if not callable(k) else k(obj)
        obj[keys[-1]] = value
    return fn


def _first_query(rec):
    return rec["per_query"][next(iter(rec["per_query"]))]


@dataclass
class Damage:
    id: str
    fn: Callable[[dict], None]
    expect: tuple[str, ...]  # in the warning, after the file's path


DAMAGES = [
    Damage("metrics-a-list", _set("metrics", value=[0.1, 0.2]), ("field 'metrics'", "expected a table of metric -> number")),
    Damage("settings-null", _set("settings", value=None), ("field 'settings'", "expected a table")),
    Damage("metric-nan", lambda r: r["metrics"].update({"ndcg@10": math.nan}), ("field 'metrics.ndcg@10'", "finite number")),
    Damage("metric-string", lambda r: r["metrics"].update({"ndcg@10": "0.5"}), ("field 'metrics.ndcg@10'", "finite number")),
    Damage("metric-bool", lambda r: r["metrics"].update({"map": True}), ("field 'metrics.map'", "finite number")),
    Damage("per-query-without-metric", lambda r: _first_query(r).pop("ndcg@10"), ("field 'per_query.0'", "no 'ndcg@10'")),
    Damage("per-query-a-number", lambda r: r["per_query"].update({"0": 0.5}), ("field 'per_query.0'", "expected a table")),
    Damage("per-query-nan", lambda r: _first_query(r).update({"map": math.nan}), ("field 'per_query.0.map'", "finite number")),
    Damage("per-query-empty", _set("per_query", value={}), ("field 'per_query'", "no queries")),
    Damage("metrics-disagree-with-per-query", lambda r: r["metrics"].update({"ndcg@10": r["metrics"]["ndcg@10"] + 0.01}),
           ("field 'metrics.ndcg@10'", "is not the mean of its 4 per-query values")),
    Damage("unknown-task", _set("task", value="bilogy"), ("field 'task'", "unknown task 'bilogy'")),
    Damage("task-number", _set("task", value=3), ("field 'task'", "expected a non-empty string, got a number")),
    Damage("retriever-null", _set("retriever", value=None), ("field 'retriever'", "expected a non-empty string")),
    Damage("reranker-number", _set("reranker", value=5), ("field 'reranker'", "expected a string or null")),
    Damage("identity-a-string", _set("identity", value="x"), ("field 'identity'", "expected a table")),
    Damage("warnings-a-string", _set("warnings", value="careful"), ("field 'warnings'", "list of strings")),
    Damage("run-file-number", _set("run_file", value=3), ("field 'run_file'", "expected a string or null")),
    Damage("missing-metrics", lambda r: r.pop("metrics"), ("field 'metrics'", "missing")),
    Damage("not-an-object", lambda r: (r.clear(), r.update(schema="x")), ("not a bright-eval result",)),
]


def _damage(path: Path, fn) -> None:
    rec = json.loads(path.read_text())
    fn(rec)
    path.write_text(json.dumps(rec))


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in DAMAGES])
def test_damaged_record_is_skipped_with_a_warning(case, results, tmp_path, caplog):
    run, bio = results
    _damage(bio, case.fn)
    caplog.clear()
    code, out, err = run("leaderboard", "--results-dir", tmp_path / "r", "--format", "json")
    assert "Traceback" not in out + err
    assert code == 0, err
    rows = json.loads(out)["rows"]
    assert len(rows) == 1 and "pony" in rows[0]["scores"] and "biology" not in rows[0]["scores"]  # the other record is used
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and str(bio) in r.getMessage()]
    assert len(warned) == 1, [r.getMessage() for r in caplog.records]
    assert warned[0].startswith(f"{bio}: skipped"), warned[0]
    for e in case.expect:
        assert e in warned[0], warned[0]


def test_damaged_or_runless_record_is_recomputed_not_reused(results, tmp_path, caplog):
    run, bio = results
    args = ("run", "--tasks", "biology,pony", "--data-dir", tmp_path / "data", "--results-dir", tmp_path / "r")
    good = json.loads(bio.read_text())["metrics"]
    # The run file beside a record is part of what it promises: without it the record is not reused.
    (bio.parent / "biology.run.gz").unlink()
    code, out, err = run("matrix", "--rewriters", "original", "--retrievers", "bm25", *args[1:], "--dry-run", "--format", "json")
    assert code == 0, err
    plan = {p["task"]: p for p in json.loads(out)["plan"]}
    assert plan["pony"]["status"] == "reuse"
    assert plan["biology"]["status"] == "compute" and "run file biology.run.gz is missing" in plan["biology"]["reason"]
    caplog.clear()
    code, out, err = run(*args, "--format", "json")
    assert code == 0, err
    assert any("biology.run.gz is missing" in r.getMessage() and "recomputing" in r.getMessage() for r in caplog.records)
    assert (bio.parent / "biology.run.gz").exists() and json.loads(bio.read_text())["metrics"] == good
    # Stored metrics that are not the mean of the stored per-query values: not reused either.
    _damage(bio, lambda r: r["metrics"].update({"ndcg@10": 0.99}))
    code, out, err = run("matrix", "--rewriters", "original", "--retrievers", "bm25", *args[1:], "--dry-run", "--format", "json")
    plan = {p["task"]: p for p in json.loads(out)["plan"]}
    assert plan["biology"]["status"] == "compute" and "damaged" in plan["biology"]["reason"]
    code, out, err = run(*args, "--format", "json")
    assert code == 0 and json.loads(bio.read_text())["metrics"] == good


# -- evaluate ------------------------------------------------------------------------------------------------
RUN = "".join(f"{q} Q0 {d} {r} {s} t\n" for q, d, r, s in [
    ("0", "insects_light/Phototaxis_0.txt", 1, 2.5), ("0", "plants/Chlorophyll_0.txt", 2, 1.5),
    ("1", "sleep/Sleep deprivation_0.txt", 1, 3.0), ("2", "blood/Veins_0.txt", 1, 1.0)])


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_evaluate_two_run_files_with_one_name_keep_two_results(env, tmp_path, caplog):
    a = _write(tmp_path / "a" / "run.txt", RUN)
    b = _write(tmp_path / "b" / "run.txt", RUN.replace("1 3.0", "1 0.5").replace("blood/Veins_0.txt", "plants/Chlorophyll_0.txt"))
    paths = []
    for f in (a, b):
        code, out, err = env("evaluate", f, "--task", "biology", "--data-dir", tmp_path / "data", "--results-dir", tmp_path / "r",
                             "--format", "json")
        assert code == 0, err
        assert "wrote " in err and str(tmp_path / "r") in err
        paths.append(err.split("wrote ", 1)[1].split()[0])
    assert paths[0] != paths[1]
    files = sorted((tmp_path / "r").rglob("biology*.json"))
    assert len(files) == 2
    recs = [json.loads(f.read_text()) for f in files]
    assert {r["data"]["run_file"] for r in recs} == {str(a.resolve()), str(b.resolve())}
    assert recs[0]["retriever"] != recs[1]["retriever"]
    # The same file evaluated again is the same result, filed in the same place.
    code, out, err = env("evaluate", a, "--task", "biology", "--data-dir", tmp_path / "data", "--results-dir", tmp_path / "r")
    assert code == 0 and len(sorted((tmp_path / "r").rglob("biology*.json"))) == 2
    # The same content under a third path is a third result (each names its own file).
    c = _write(tmp_path / "c" / "run.txt", RUN)
    code, out, err = env("evaluate", c, "--task", "biology", "--data-dir", tmp_path / "data", "--results-dir", tmp_path / "r")
    assert code == 0 and len(sorted((tmp_path / "r").rglob("biology*.json"))) == 3
    # And the leaderboard shows each.
    code, out, err = env("leaderboard", "--results-dir", tmp_path / "r", "--format", "json")
    assert code == 0 and len(json.loads(out)["rows"]) == 3


@pytest.mark.parametrize("unknown,total", [(4, 4), (1, 4)])
def test_evaluate_warns_about_doc_ids_not_in_the_corpus(env, tmp_path, caplog, unknown, total):
    lines = RUN.splitlines(keepends=True)
    text = "".join(ln.replace(" Q0 ", " Q0 nowhere/") if i < unknown else ln for i, ln in enumerate(lines))
    f = _write(tmp_path / "r.run", text)
    caplog.clear()
    code, out, err = env("evaluate", f, "--task", "biology", "--data-dir", tmp_path / "data", "--format", "json")
    assert code == 0, err
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    what = "none of its 4 document ids are" if unknown == total else "1 of its 4 document ids are not"
    assert f"{f}: {what} in the documents of task 'biology'" in warned, warned


def test_evaluate_gz_run_ids_checked_too(env, tmp_path, caplog):
    f = tmp_path / "r.run.gz"
    f.write_bytes(gzip.compress(RUN.replace(" Q0 ", " Q0 x/").encode()))
    caplog.clear()
    code, out, err = env("evaluate", f, "--task", "biology", "--data-dir", tmp_path / "data", "--format", "json")
    assert code == 0 and "none of its 4 document ids" in " ".join(r.getMessage() for r in caplog.records)
