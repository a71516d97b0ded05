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


def assert_one_error(code: int, out: str, err: str, fragments) -> str:
    """What every bad input must give: exit 2, no traceback, exactly one stderr line `error: ...` holding
    each fragment (which file, which field, what was expected). Returns that line."""
    assert "Traceback" not in out + err
    assert code == 2, f"exit {code}\nstdout: {out}\nstderr: {err}"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
