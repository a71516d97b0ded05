"""The real CLI in process, as the bad-input tables drive it: (exit code, stdout, stderr)."""

from __future__ import annotations

import sys

from bright_eval.cli import main


def invoke(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["bright-eval", *map(str, args)])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err
