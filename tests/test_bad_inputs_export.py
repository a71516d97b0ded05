"""Bad inputs to `bright-eval export` and `leaderboard --mteb-results`, one row each, through the real CLI:
exit 2 with one stderr line naming the option, file or field, and what was expected."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import pytest
from cli_invoke import assert_one_error, invoke


def _mteb_file(tmp, entry: dict | None = None, text: str | None = None) -> None:
    folder = tmp / "mteb" / "results" / "m" / "r"
    folder.mkdir(parents=True)
    obj = {"dataset_revision": "x", "task_name": "BrightRetrieval", "mteb_version": "1.12.79",
           "scores": {"standard": [entry or {}]}}
    (folder / "BrightRetrieval.json").write_text(text if text is not None else json.dumps(obj))


@dataclass
class Case:
    id: str
    args: list           # "{res}" is a results folder with `original + bm25` on biology, "{tmp}" the test folder
    expect: tuple[str, ...]
    setup: object = None  # tmp -> None: writes what the case needs


EXPORT = ["export", "--format"]
CASES = [
    Case("empty-results-dir", [*EXPORT, "mteb", "--results-dir", "{tmp}/empty", "--out", "{tmp}/o"],
         ("--results-dir", "/empty: no results files"), lambda t: (t / "empty").mkdir()),
    Case("missing-results-dir", [*EXPORT, "mteb", "--results-dir", "{tmp}/nope", "--out", "{tmp}/o"],
         ("--results-dir", "/nope: there is no folder",)),
    Case("results-dir-is-a-file", [*EXPORT, "mteb", "--results-dir", "{tmp}/f.txt", "--out", "{tmp}/o"],
         ("--results-dir", "f.txt: is a file, not folder"), lambda t: (t / "f.txt").write_text("x")),
    Case("no-matching-rewriter", [*EXPORT, "mteb", "--results-dir", "{res}", "--out", "{tmp}/o", "--rewriter", "tsqr"],
         ("no result matches --rewriter tsqr", "it holds original + bm25")),
    Case("no-matching-settings", [*EXPORT, "querygym", "--results-dir", "{res}", "--out", "{tmp}/o", "--settings", "top_k=5"],
         ("no result matches --settings 'top_k=5'",)),
    Case("unknown-task", [*EXPORT, "mteb", "--results-dir", "{res}", "--out", "{tmp}/o", "--task", "biolgy"],
         ("--task: 'biolgy' is not a BRIGHT task",)),
    Case("out-under-a-file", [*EXPORT, "mteb", "--results-dir", "{res}", "--out", "{tmp}/f.txt/o"],
         ("--out", "f.txt"), lambda t: (t / "f.txt").write_text("x")),
    Case("querygym-without-llm", [*EXPORT, "querygym", "--results-dir", "{res}", "--out", "{tmp}/o"],
         ("biology.json: rewriter 'original' calls no LLM", "config.llm_config")),
    Case("querygym-model-name", [*EXPORT, "querygym", "--results-dir", "{res}", "--out", "{tmp}/o", "--model-name", "x"],
         ("--model-name/--model-revision are for --format mteb",)),
    Case("mteb-results-not-a-folder", ["leaderboard", "--results-dir", "{res}", "--mteb-results", "{tmp}/none"],
         ("--mteb-results", "none: not a folder")),
    Case("mteb-file-not-json", ["leaderboard", "--results-dir", "{res}", "--mteb-results", "{tmp}/mteb"],
         ("BrightRetrieval.json: not readable as JSON",), lambda t: _mteb_file(t, text="{oops")),
    Case("mteb-unknown-subset", ["leaderboard", "--results-dir", "{res}", "--mteb-results", "{tmp}/mteb"],
         ("scores.standard[0].hf_subset must be a BRIGHT task", "'biologie'"),
         lambda t: _mteb_file(t, {"hf_subset": "biologie", "main_score": 0.2})),
    Case("mteb-score-not-a-number", ["leaderboard", "--results-dir", "{res}", "--mteb-results", "{tmp}/mteb"],
         ("scores.standard[0].main_score must be a number", "'0.2'"),
         lambda t: _mteb_file(t, {"hf_subset": "biology", "main_score": "0.2"})),
]


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory, tiny_bright):
    """One `bright-eval run` (original + bm25 on biology), shared by the rows that need results."""
    import subprocess

    res = tmp_path_factory.mktemp("export") / "res"
    cache = res.parent / "cache"
    env = {"HF_HUB_OFFLINE": "1", "BRIGHT_EVAL_NO_PROGRESS": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "bright_eval.cli", "run", "-r", "original", "-m", "bm25", "--data-dir", str(tiny_bright),
                           "-t", "biology", "--results-dir", str(res), "--cache-dir", str(cache)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return res


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, tmp_path, results_dir, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("BRIGHT_RESULTS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    if case.setup:
        case.setup(tmp_path)
    args = [str(a).replace("{res}", str(results_dir)).replace("{tmp}", str(tmp_path)) for a in case.args]
    code, out, err = invoke(monkeypatch, capsys, *args)
    assert_one_error(code, out, err, case.expect)
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_bad_format_names_the_choices(tmp_path, monkeypatch, capsys):
    code, out, err = invoke(monkeypatch, capsys, "export", "--format", "csv", "--out", tmp_path / "o")
    assert code == 2 and "Traceback" not in out + err
    assert "--format" in err and "'mteb', 'querygym'" in err
