"""Bad inputs to `bright-eval explore`: exit 2, one stderr line naming the option or file, no traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bright_eval.cli import main

RECORD = ('{"schema": "bright-eval.result/2", "task": "biology", "rewriter": "original", "retriever": "bm25", "identity": {}, '
          '"metrics": {"ndcg@10": 0.5}, "per_query": {"0": {"ndcg@10": 0.5}}}')


@dataclass
class Case:
    id: str
    setup: Callable[[Path], list]
    expect: tuple[str, ...]


def results(tmp: Path) -> Path:
    (tmp / "r" / "original" / "bm25").mkdir(parents=True)
    (tmp / "r" / "original" / "bm25" / "biology.json").write_text(RECORD)
    return tmp / "r"


CASES = [
    Case("missing results dir", lambda t: ["--results-dir", t / "nope"], ("results folder", "does not exist", "--results-dir")),
    Case("results dir is a file", lambda t: ["--results-dir", (t / "f").write_text("x") and t / "f"], ("--results-dir", "is a file")),
    Case("empty results dir", lambda t: ["--results-dir", (t / "e").mkdir() or t / "e"], ("no results files under", "--results-dir")),
    Case("unknown baseline", lambda t: ["--results-dir", results(t), "--baseline", "hyde"], ("--baseline", "'hyde'", "rewriters found: original")),
    Case("unknown system", lambda t: ["--results-dir", results(t), "--systems", "splade"], ("--systems", "'splade'", "original + bm25")),
    Case("unknown metric", lambda t: ["--results-dir", results(t), "--metric", "ndcg@5"], ("--metric", "'ndcg@5'", "ndcg@10")),
    Case("serve and single file", lambda t: ["--results-dir", results(t), "--serve", "--single-file"], ("--serve", "--single-file")),
    Case("single file onto a folder", lambda t: ["--results-dir", results(t), "--single-file", "--out", t], ("--out", "is a folder")),
    Case("site folder onto a file", lambda t: ["--results-dir", results(t), "--out", (t / "g").write_text("x") and t / "g"], ("--out", "is a file")),
    Case("depth out of range", lambda t: ["--results-dir", results(t), "--depth", "0"], ("--depth",)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = case.setup(tmp_path)
    monkeypatch.setattr(sys, "argv", ["bright-eval", "explore", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        main()
    out, err = capsys.readouterr()
    assert exc.value.code == 2
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    if case.id != "depth out of range":  # click's own usage error is a few lines, and names the option
        assert len(lines) == 1, err
    for word in case.expect:
        assert word in err, (word, err)
