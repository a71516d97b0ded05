"""The documentation cannot rot: the site builds with `mkdocs build --strict` (a broken link, anchor or
snippet fails it), the CLI reference equals what the Typer app generates, and every code block marked
`<!-- run -->` runs against the tiny fixture (docs/index.md, "Docs that run", states the convention)."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
MARK = "<!-- run -->"
LANGS = ("python", "bash")
# variables a user may have set that would point the commands away from the fixture
UNSET = ("BRIGHT_DATA_DIR", "BRIGHT_RESULTS_DIR", "BRIGHT_HUB_REPO", "BRIGHT_REVISION", "BRIGHT_EVAL_CACHE")


def runnable_blocks(text: str, where: str) -> list[tuple[str, str, int]]:
    """(language, code, line) of every fenced block right after a `<!-- run -->` line."""
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        if lines[i].strip() != MARK:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        fence = re.match(r"^(`{3,})\s*([\w-]*)", lines[j]) if j < len(lines) else None
        if fence is None:
            raise ValueError(f"{where}:{i + 1}: {MARK} must be followed by a fenced code block")
        ticks, lang = fence.groups()
        if lang not in LANGS:
            raise ValueError(f"{where}:{j + 1}: a runnable block must be one of {', '.join(LANGS)}, got '{lang or 'no language'}'")
        end = next((k for k in range(j + 1, len(lines)) if lines[k].strip() == ticks), None)
        if end is None:
            raise ValueError(f"{where}:{j + 1}: the code block is not closed")
        out.append((lang, "\n".join(lines[j + 1:end]) + "\n", j + 1))
        i = end + 1
    return out


def bash_commands(code: str, where: str) -> list[list[str]]:
    """A runnable bash block: `bright-eval ...` commands, one a line (`\\` continues, `#` comments)."""
    commands = []
    for line in code.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if words[0] != "bright-eval":
            raise ValueError(f"{where}: a runnable bash block holds only bright-eval commands, got: {line.strip()}")
        commands.append(words[1:])
    return commands


def pages_with_blocks() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if MARK in p.read_text())


def _env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    return {**env, "HF_HUB_OFFLINE": "1", "BRIGHT_EVAL_CACHE": str(folder / "cache"), "COLUMNS": "200"}


@pytest.mark.parametrize("page", pages_with_blocks(), ids=lambda p: p.relative_to(DOCS).as_posix())
def test_runnable_blocks_run_against_the_tiny_fixture(page, tiny_bright, tmp_path):
    shutil.copytree(tiny_bright, tmp_path / "tests" / "fixtures" / "tiny_bright")
    env = _env(tmp_path)
    for n, (lang, code, line) in enumerate(runnable_blocks(page.read_text(), page.name)):
        where = f"{page.relative_to(REPO)}:{line}"
        if lang == "python":
            script = tmp_path / f"block_{n}.py"
            script.write_text(code)
            res = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
            assert res.returncode == 0, f"{where}: the python block failed\n{res.stderr[-3000:]}"
            continue
        for args in bash_commands(code, where):
            res = subprocess.run([sys.executable, "-c", "from bright_eval.cli import main; main()", *args],
                                 cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
            assert res.returncode == 0, f"{where}: `bright-eval {shlex.join(args)}` exited {res.returncode}\n{res.stderr[-3000:]}"


def test_the_pages_that_must_run_have_runnable_blocks():
    pages = {p.name for p in pages_with_blocks()}
    assert {"index.md", "python-api.md", "writing-a-plugin.md"} <= pages
    langs = {lang for lang, _, _ in runnable_blocks((DOCS / "index.md").read_text(), "index.md")}
    assert langs == {"bash", "python"}  # the first run from the shell and from Python


@pytest.mark.parametrize("text, message", [
    (f"{MARK}\nplain text\n", "must be followed by a fenced code block"),
    (f"{MARK}\n```toml\nx = 1\n```\n", "got 'toml'"),
    (f"{MARK}\n```python\nprint(1)\n", "not closed"),
])
def test_a_malformed_runnable_block_is_an_error_not_a_skip(text, message):
    with pytest.raises(ValueError, match=message):
        runnable_blocks(text, "page.md")


def test_runnable_bash_blocks_hold_only_bright_eval_commands():
    [(_, code, _)] = runnable_blocks(f"{MARK}\n```bash\nbright-eval run \\\n  --tasks biology  # one task\n```\n", "p.md")
    assert bash_commands(code, "p.md") == [["run", "--tasks", "biology"]]
    with pytest.raises(ValueError, match="only bright-eval commands, got: rm -rf runs"):
        bash_commands("bright-eval tasks\nrm -rf runs\n", "p.md")


def test_examples_are_executed_by_the_tests(tiny_bright, tmp_path):
    """docs/examples/*.py run as `python EXAMPLE DATA_DIR OUT_DIR`; one that another test runs itself
    (api_quickstart.py: tests/test_api.py, which also compares its numbers with the CLI's) is not run twice."""
    others = "\n".join(p.read_text() for p in (REPO / "tests").glob("test_*.py") if p.name != Path(__file__).name)
    examples = sorted((DOCS / "examples").glob("*.py"))
    assert examples
    for example in examples:
        if example.name in others:
            continue
        res = subprocess.run([sys.executable, str(example), str(tiny_bright), str(tmp_path / example.stem)], cwd=tmp_path,
                             env=_env(tmp_path), capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, f"{example.relative_to(REPO)} failed\n{res.stderr[-3000:]}"


def _gen_cli():
    spec = importlib.util.spec_from_file_location("gen_cli", DOCS / "gen_cli.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cli_reference_is_generated_from_the_typer_app():
    gen = _gen_cli()
    text = gen.render()
    assert (DOCS / "cli-reference.md").read_text() == text, "docs/cli-reference.md is stale: run `python docs/gen_cli.py`"
    from typer.main import get_command

    from bright_eval.cli import app

    root = get_command(app)
    for name, cmd in root.commands.items():  # every command and subcommand has its section
        assert f"`bright-eval {name}`" in text
        for sub in getattr(cmd, "commands", {}):
            assert f"`bright-eval {name} {sub}`" in text
    assert "| `-t, --tasks <str>` | Comma-separated BRIGHT tasks, or 'all'. \\[default: all\\] |" in text


def test_cli_reference_escapes_what_markdown_would_swallow():
    gen = _gen_cli()
    assert gen._escape("ask for <think> | keep `a|b` and `<x>`") == "ask for &lt;think&gt; \\| keep `a\\|b` and `<x>`"
    assert gen._escape("top_k=40, *args") == "top\\_k=40, \\*args"


def _mkdocs():
    for module in ("mkdocs", "material", "mkdocstrings"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install -e '.[docs]'); the site build is not checked here")


def test_site_builds_with_strict(tmp_path):
    _mkdocs()
    res = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                         cwd=REPO, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    api = (tmp_path / "site" / "api-reference.html").read_text()
    assert "to_pandas" in api and "Registry" in api  # mkdocstrings rendered the docstrings
    index = (tmp_path / "site" / "index.html").read_text()
    assert "fonts.googleapis.com" not in index  # offline: no web fonts


def test_strict_build_fails_on_a_broken_anchor(tmp_path):
    """The site's own validation settings turn a link to a missing heading into a failed build."""
    _mkdocs()
    import yaml

    conf = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# Home\n\nSee [the options](other.md#no-such-heading).\n")
    (tmp_path / "docs" / "other.md").write_text("# Other\n\n## Options\n")
    small = {"site_name": "t", "strict": True, "validation": conf["validation"], "theme": {"name": "mkdocs"},
             "nav": ["index.md", "other.md"]}
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(small))
    res = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=300)
    assert res.returncode != 0 and "no-such-heading" in res.stderr
