"""Component options are typed: every bad value is one error line naming component, option, value and
what is allowed, before any work; one system has one canonical name; an option given two ways must
agree; options that would do nothing are refused. Through the real CLI, on tiny_bright."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_invoke import assert_one_error  # noqa: E402

from bright_eval.errors import BrightEvalError
from bright_eval.option_docs import BEGIN, END, all_tables
from bright_eval.registry import parse_args
from bright_eval.retrievers import RETRIEVERS
from bright_eval.rewriters import REWRITERS

REPO = Path(__file__).resolve().parent.parent
RUN = ["run", "--tasks", "biology", "--results-dir", "r"]

# (id, extra CLI args, every fragment the one error line must hold)
BAD = [
    ("k1-text", ["--retriever-args", "k1=abc"], ["retriever 'bm25'", "k1='abc'", "expected number >= 0"]),
    ("k1-null", ["--retriever-args", "k1=null"], ["k1=null", "expected number >= 0"]),
    ("k1-list", ["--retriever-args", "k1=[1,2]"], ["k1=[1, 2]", "valid number"]),
    ("b-inline-text", ["--retriever", "bm25(b=high)"], ["retriever 'bm25'", "b='high'", "<= 1"]),
    ("k1-nan", ["--retriever-args", "k1=NaN"], ["k1=nan", "finite number"]),
    ("k1-inf", ["--retriever-args", "k1=Infinity"], ["k1=inf", "finite number"]),
    ("k1-negative", ["--retriever-args", "k1=-5"], ["k1=-5", "greater than or equal to 0"]),
    ("b-above-one", ["--retriever-args", "b=7"], ["b=7", "less than or equal to 1"]),
    ("k1-bool", ["--retriever-args", "k1=true"], ["k1=true", "valid number"]),
    ("key-twice", ["--retriever-args", "k1=1.2,k1=2.0"], ["--retriever-args", "'k1' is given twice"]),
    ("inline-and-flag-disagree", ["--retriever", "bm25(k1=1.2)", "--retriever-args", "k1=2"],
     ["option 'k1' is given twice with different values", "'bm25(k1=1.2)' says 1.2", "--retriever-args says 2"]),
    ("unknown-option", ["--retriever-args", "k=1.2"], ["has no option 'k'", "Did you mean: k1"]),
    ("fuse-member-option", ["--retriever", "fuse:rrf(bm25(k1=-1),bm25-lucene)"], ["retriever 'bm25'", "k1=-1"]),
    ("fuse-nan-weight", ["--retriever", "fuse:rrf(bm25,bm25-lucene)", "--retriever-args", "weights=[1,NaN]"],
     ["weights=[1, NaN]", "item 1: input should be a finite number"]),
    ("fuse-norm", ["--retriever", "fuse:interp(bm25,bm25-lucene)", "--retriever-args", "norm=zscore"],
     ["norm='zscore'", "one of: min-max, z-score, none"]),
    ("fuse-depth", ["--retriever", "fuse:rrf(bm25,bm25-lucene)", "--retriever-args", "depth=0"], ["depth=0", "integer >= 1"]),
    ("reranker-args-without-reranker", ["--reranker-args", "batch_size=4"], ["--reranker-args given without --reranker"]),
    ("reranker-batch-text", ["--reranker", "embed:all-minilm-l6-v2", "--reranker-args", "batch_size=abc"],
     ["reranker 'embed:all-minilm-l6-v2'", "batch_size='abc'", "integer >= 1"]),
    ("rewriter-temperature-negative", ["--rewriter", "gpt-4o", "--rewriter-args", "temperature=-1"],
     ["rewriter 'gpt-4o'", "temperature=-1"]),
    ("rewriter-top-p-zero", ["--rewriter", "gpt-4o(top_p=0)"], ["top_p=0", "greater than 0"]),
    ("rewriter-compose", ["--rewriter", "file:x.jsonl", "--compose", "both"], ["compose='both'", "one of: replace, original+rewrite"]),
    ("rewriter-flag-and-args-disagree", ["--rewriter", "gpt-4o", "--rewriter-args", "temperature=0.5", "--temperature", "0.7"],
     ["'temperature' is given twice", "--rewriter-args says 0.5", "its flag says 0.7"]),
    ("flag-the-rewriter-lacks", ["--rewriter", "original", "--temperature", "0.7"], ["rewriter 'original' has no option 'temperature'"]),
]


@pytest.mark.parametrize("extra,fragments", [pytest.param(a, f, id=i) for i, a, f in BAD])
def test_bad_option_is_one_line_before_any_work(cli_env, tmp_path, extra, fragments):
    data, run = cli_env
    code, out, err = run(*RUN, "--data-dir", data, *extra)
    assert_one_error(code, out, err, fragments)
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").rglob("*.json")), "work was done before the error"


def test_one_system_one_canonical_name():
    assert RETRIEVERS.display_name("bm25", {"k1": 1}) == RETRIEVERS.display_name("bm25", {"k1": 1.0}) == "bm25(k1=1.0)"
    assert RETRIEVERS.display_name("bm25", {"k1": 0.9, "b": 0.4}) == "bm25"  # defaults spelt out
    assert RETRIEVERS.display_name("bm25", {"b": 1, "k1": 1.2}) == "bm25(b=1.0,k1=1.2)"
    assert RETRIEVERS.display_name("all-minilm-l6-v2", {"batch_size": 4}) == "all-minilm-l6-v2"  # speed only
    assert REWRITERS.display_name("gpt-4o", {"temperature": 0}) == "gpt-4o(temperature=0.0)"


def test_inline_and_flag_options_merge(cli_env):
    """Today's silent drop: `--retriever "bm25(k1=1.2)" --retriever-args b=0.9` ran with b=0.4."""
    data, run = cli_env
    code, out, err = run(*RUN, "--data-dir", data, "--retriever", "bm25(k1=1.2)", "--retriever-args", "b=0.9", "--format", "json")
    assert code == 0, err
    records = [json.loads(f.read_text()) for f in Path("r").rglob("biology.json")]
    assert [r["retriever"] for r in records] == ["bm25(b=0.9,k1=1.2)"]


def test_int_and_float_spellings_share_one_results_file(cli_env):
    data, run = cli_env
    assert run(*RUN, "--data-dir", data, "--retriever", "bm25(k1=1)")[0] == 0
    code, out, err = run(*RUN, "--data-dir", data, "--retriever-args", "k1=1.0")
    assert code == 0 and "reused" in err, err
    assert [json.loads(f.read_text())["retriever"] for f in Path("r").rglob("biology.json")] == ["bm25(k1=1.0)"]


def test_openai_base_url_in_the_environment_breaks_no_other_component(cli_env, monkeypatch):
    data, run = cli_env
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    code, out, err = run(*RUN, "--data-dir", data, "--rewriter", "original")
    assert code == 0, err


def test_address_needs_the_ray_executor(cli_env, monkeypatch):
    data, run = cli_env
    args = ["matrix", "--rewriters", "original", "--retrievers", "bm25", "--tasks", "biology", "--data-dir", data,
            "--results-dir", "r", "--dry-run"]
    code, out, err = run(*args, "--address", "127.0.0.1:6379")
    assert code == 2 and "--address is for --executor ray" in err
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")  # the environment serves Ray runs only: not an error
    code, out, err = run(*args)
    assert code == 0, err


def test_parse_args_refuses_a_key_twice():
    with pytest.raises(BrightEvalError, match="'b' is given twice"):
        parse_args("b=0.1,k1=2,b=0.2", "--retriever-args")
    assert parse_args("weights=[1,2],k=3", "x") == {"weights": "[1,2]", "k": "3"}  # text until a declaration types it


def test_command_line_values_are_typed_by_the_declaration():
    from bright_eval.rerankers import RERANKERS

    fuse = RETRIEVERS.lookup("fuse:rrf(bm25,bm25-lucene)")[0]
    assert fuse.validate("fuse:rrf(bm25,bm25-lucene)", parse_args("weights=[1,2],k=3", "x")) == {"weights": [1.0, 2.0], "k": 3.0}
    # a text option keeps digits, 'none' and 'true' as the text typed
    gpt = REWRITERS.lookup("gpt-4o")[0]
    assert gpt.validate("gpt-4o", parse_args("base_url=2024,temperature=0", "x")) == {"base_url": "2024", "temperature": 0.0}
    assert gpt.validate("gpt-4o", parse_args("base_url=null", "x")) == {"base_url": None}
    ce = RERANKERS.lookup("ce:x")[0]
    assert ce.validate("ce:x", parse_args("revision=1234567,device=0", "x")) == {"revision": "1234567", "device": "0"}
    dense = RETRIEVERS.lookup("all-minilm-l6-v2")[0]
    assert dense.validate("all-minilm-l6-v2", parse_args("quantize=none,backend=onnx", "x")) == {"quantize": "none", "backend": "onnx"}
    # the same option inline as text and in a table as a number agree
    assert RETRIEVERS.display_name("bm25", parse_args("k1=1", "x")) == "bm25(k1=1.0)"


def test_option_tables_are_generated_from_the_declarations():
    page = (REPO / "docs" / "component-options.md").read_text(encoding="utf-8")
    block = page.split(BEGIN, 1)[1].split(END, 1)[0]
    assert block == all_tables(), "docs/component-options.md's option tables drifted: run `make options-doc`"
    assert "| `k1` | number >= 0 | `0.9` |" in block


def test_an_option_table_left_unused_by_the_command_line_is_a_warning(cli_env, caplog):
    data, run = cli_env
    cfg = Path("exp.toml")
    cfg.write_text('[matrix]\nrewriters = ["original"]\nretrievers = ["bm25-lucene"]\n[matrix.retriever_args.bm25-lucene]\nk1 = 1.2\n')
    code, out, err = run("matrix", "--config", cfg, "--retrievers", "bm25", "--tasks", "biology", "--data-dir", data,
                         "--results-dir", "r", "--dry-run")
    assert code == 0, err
    assert "[matrix.retriever_args.bm25-lucene] is not used" in caplog.text
