"""`bright-eval --help` starts fast because nothing heavy loads before a command runs, and says
everything it said before: every command with its whole one-line summary, no stray rich markup.
(Timing itself is measured by benchmarks/cli_startup.py, not asserted here.)"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from bright_eval.cli import app

# What `bright-eval --help` must not pay for: ML stacks, data frames, rich's help/traceback
# machinery (markdown-it, pygments), typer's pydantic coercion, rich itself, the data loaders.
HEAVY = ("numpy", "pandas", "torch", "transformers", "datasets", "pyarrow", "pydantic", "rich", "markdown_it", "pygments",
         "importlib.metadata", "bright_eval.data", "bright_eval.cache", "bright_eval.retrievers", "bright_eval.rewriters")

COMMANDS = {"retrievers", "tasks", "export", "leaderboard", "matrix", "report", "reproduce", "rerankers", "rewriters", "rewrite", "run",
            "evaluate", "data", "train", "explore"}

# Runs argv through `main()` in a fresh interpreter and reports what got imported, as JSON on stderr.
PROBE = """
import json, sys
argv, heavy = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.argv = ["bright-eval", *argv]
from bright_eval.cli import main
code = 0
if argv:
    try:
        main()
    except SystemExit as exc:
        code = exc.code
loaded = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy))
print(json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
"""


def probe(*argv: str) -> tuple[dict, str]:
    res = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv), json.dumps(HEAVY)], capture_output=True, text=True,
                         timeout=60)
    return json.loads(res.stderr.strip().splitlines()[-1]), res.stdout


@pytest.mark.parametrize("argv", [(), ("--help",), ("run", "--help"), ("matrix", "--help"), ("data", "export", "--help"),
                                  ("train", "grpo", "--help")], ids=lambda a: " ".join(a) or "import")
def test_help_imports_nothing_heavy(argv):
    info, out = probe(*argv)
    assert info["loaded"] == [], f"bright-eval {' '.join(argv)} imported {info['loaded']}"
    if argv:
        assert info["code"] in (0, None) and out.startswith("Usage: bright-eval")


def _groups():
    """(path, click group) for the top level and every command group under it."""
    root = get_command(app)
    yield (), root
    for name, cmd in root.commands.items():
        if hasattr(cmd, "commands"):
            yield (name,), cmd


def _summary(cmd) -> str:
    return " ".join((cmd.short_help or cmd.help or "").split("\n\n")[0].split())


@pytest.mark.parametrize("path", [p for p, _ in _groups()], ids=lambda p: " ".join(p) or "bright-eval")
def test_help_lists_every_command_with_its_whole_summary(path):
    group = dict(_groups())[path]
    res = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
    assert res.exit_code == 0, res.output
    listed = res.output.split("Commands:", 1)[1]
    flat = " ".join(listed.split())
    for name, cmd in group.commands.items():
        summary = _summary(cmd)
        assert summary and f"{name} {summary}" in flat, f"{name!r}: summary {summary!r} not in\n{listed}"
        assert not summary.endswith("..."), f"{name!r}: summary cut short"
    if not path:
        assert set(group.commands) == COMMANDS


def _all_commands():
    for path, group in _groups():
        for name, cmd in group.commands.items():
            if not hasattr(cmd, "commands"):
                yield (*path, name)


@pytest.mark.parametrize("path", list(_all_commands()), ids=" ".join)
def test_every_command_help_reads_as_plain_text(path):
    res = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
    assert res.exit_code == 0, res.output
    assert res.output.startswith(f"Usage: bright-eval {' '.join(path)} ")
    for markup in ("[/", "[bold", "[b]", "[dim]", "\\[", "╭"):
        assert markup not in res.output, f"stray {markup!r} in `{' '.join(path)} --help`"


def test_matrix_help_keeps_the_bracketed_table_names():
    """Rich markup ate "[matrix]" from --config's help; plain help shows it."""
    res = CliRunner().invoke(app, ["matrix", "--help"], env={"COLUMNS": "200"})
    assert "experiment.toml with a [matrix] table" in res.output
    assert "[matrix.rewriter_args.NAME]" in res.output


def test_no_arguments_prints_the_help_on_stdout_and_exits_2():
    res = subprocess.run([sys.executable, "-m", "bright_eval.cli"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert res.stdout.startswith("Usage: ") and "Commands:" in res.stdout and res.stderr == ""


def test_user_error_is_one_line_and_exit_2(tmp_path):
    res = subprocess.run([sys.executable, "-m", "bright_eval.cli", "leaderboard", "--results-dir", str(tmp_path / "none")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [f"error: results folder {tmp_path / 'none'} does not exist (--results-dir)"]


def test_logging_goes_through_rich_once_a_record_is_emitted():
    """The rich log handler is built at the first record, and still prints (once per message)."""
    code = ("import logging, sys; sys.argv = ['bright-eval', 'tasks']\n"
            "from bright_eval.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "assert 'rich.logging' not in sys.modules\n"
            "logging.getLogger('x').warning('careful: %s', 'twice'); logging.getLogger('x').warning('careful: %s', 'twice')\n"
            "assert 'rich.logging' in sys.modules\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("careful: twice") == 1 and "WARNING" in res.stderr
