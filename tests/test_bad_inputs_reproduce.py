"""Bad inputs around `reproduce` and the data revision, one row each, through the real CLI: exit 2 with
one stderr line naming the option the user gave (never another command's spelling of it)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

import pytest
from cli_invoke import assert_one_error, invoke


@dataclass
class Case:
    id: str
    args: list  # "{data}" is a copy of tiny_bright, "{tmp}" the test folder
    expect: tuple[str, ...]
    absent: tuple[str, ...] = ()
    env: dict = field(default_factory=dict)


CASES = [
    Case("run-data-revision-with-data-dir", ["run", "--tasks", "biology", "--data-dir", "{data}", "--data-revision", "abc123",
                                             "--results-dir", "{tmp}/r"],
         ("--data-revision ('abc123') pins a hub revision", "but --data-dir names a local folder"), ("--revision ",)),
    Case("run-bright-revision-env-with-data-dir", ["run", "--tasks", "biology", "--data-dir", "{data}", "--results-dir", "{tmp}/r"],
         ("BRIGHT_REVISION in the environment ('abc123')", "--data-dir"), ("--data-revision",), {"BRIGHT_REVISION": "abc123"}),
    Case("run-data-revision-with-env-data-dir", ["run", "--tasks", "biology", "--data-revision", "v2", "--results-dir", "{tmp}/r"],
         ("--data-revision ('v2')", "but BRIGHT_DATA_DIR in the environment names a local folder"), (), {"BRIGHT_DATA_DIR": "{data}"}),
    Case("matrix-data-revision-with-data-dir", ["matrix", "--rewriters", "original", "--retrievers", "bm25", "--tasks", "biology",
                                                "--data-dir", "{data}", "--data-revision", "abc123", "--results-dir", "{tmp}/r"],
         ("--data-revision ('abc123')",), ("--revision ",)),
    Case("reproduce-revision-with-data-dir", ["reproduce", "bm25-original", "--data-dir", "{data}", "--revision", "abc123",
                                              "--out", "{tmp}/o"], ("--revision ('abc123')", "--data-dir")),
    Case("export-revision-with-data-dir", ["data", "export", "--data-dir", "{data}", "--data-revision", "abc123", "--to", "{tmp}/x"],
         ("--revision/--data-revision ('abc123')",)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, tmp_path, tiny_bright, monkeypatch, capsys):
    data = tmp_path / "data"
    shutil.copytree(tiny_bright, data)
    monkeypatch.delenv("BRIGHT_DATA_DIR", raising=False)
    monkeypatch.delenv("BRIGHT_REVISION", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for k, v in case.env.items():
        monkeypatch.setenv(k, v.replace("{data}", str(data)))
    monkeypatch.chdir(tmp_path)
    args = [str(a).replace("{data}", str(data)).replace("{tmp}", str(tmp_path)) for a in case.args]
    code, out, err = invoke(monkeypatch, capsys, *args)
    line = assert_one_error(code, out, err, case.expect)
    for a in case.absent:
        assert a not in line, line
