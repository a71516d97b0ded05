"""Options shared by every command, with environment-variable defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

DataDir = typer.Option(None, "--data-dir", envvar="BRIGHT_DATA_DIR",
                       help="Local BRIGHT folder (layout of shared/bright + documents.jsonl[.gz]); default: the HF hub.")


def results_location(text: str):
    """The parser of every --results-dir: a folder or an fsspec URL (bright_eval.storage.Place)."""
    from bright_eval.storage import parse_location

    return parse_location(text)


# Annotate with `Any`: typer refuses Union annotations, and the parser decides the type.
ResultsDir = typer.Option("results/runs", "--results-dir", envvar="BRIGHT_RESULTS_DIR", parser=results_location,
                          help="Where results files are written and read: a folder or a URL such as s3://bucket/runs.")
CacheDir = typer.Option(None, "--cache-dir", envvar="BRIGHT_EVAL_CACHE",
    help="Cache for indexes, embeddings and rewrites (default ~/.cache/bright-eval).")
Tasks = typer.Option("all", "--tasks", "-t", help="Comma-separated BRIGHT tasks, or 'all'.")
Format = typer.Option("table", "--format", help="table (rich) or json (one JSON object on stdout).")
TopK = typer.Option(1000, "--top-k", min=1, help="Ranking depth kept per query (BRIGHT: 1000).")

OptPath = Optional[Path]
PlaceArg = Any  # a bright_eval.storage.Place, made by results_location
HubRepo = typer.Option(None, "--hub-repo", envvar="BRIGHT_HUB_REPO",
                       help="A mirror of xlangai/BRIGHT: a hub repo id or a local dataset repository (ignored with --data-dir).")
DataRevision = typer.Option(None, "--data-revision", envvar="BRIGHT_REVISION", help="Pin BRIGHT's hub revision (branch, tag or commit).")

# Rewriter options (used by `run` and `rewrite`); None means "the rewriter's default".
Compose = typer.Option(None, "--compose", help="replace (TongSearch-QR's protocol) or original+rewrite (concatenate).")
Think = typer.Option(False, "--think", help="Think mode: ask for <think>/<answer> and keep the answer.")
Backend = typer.Option(None, "--backend", help="Local models: auto (vLLM if installed and a GPU is visible), vllm, transformers.")
MaxNewTokens = typer.Option(None, "--max-new-tokens", help="Generation budget per query (default: the prompt's released setting, 500 for tsqr).")
Temperature = typer.Option(None, "--temperature", help="Sampling temperature (default: the prompt's released setting; 0 = greedy).")
Prompt = typer.Option(None, "--prompt", help="tsqr (TongSearch-QR's, default) or bright (BRIGHT's reason.py prompt, system message and sampling).")
DecodingOpt = typer.Option(None, "--decoding", help="released (default: the prompt authors' sampling, fixed seed) or greedy.")
Seed = typer.Option(None, "--seed", help="Sampling seed (default 0; recorded in the results).")
RewriterArgs = typer.Option(None, "--rewriter-args",
    help="Rewriter options as k=v,... (see `bright-eval rewriters`), e.g. top_k=40,repetition_penalty=1.0.")
BatchSize = typer.Option(None, "--batch-size", help="Queries per transformers generate() call (default 8).")
# No envvar here: OPENAI_BASE_URL is read by the OpenAI backend itself, so it can never become an option
# of a rewriter that takes none (`run -r original` with OPENAI_BASE_URL set).
BaseUrl = typer.Option(None, "--base-url", help="OpenAI-compatible server, e.g. http://localhost:8000/v1 for `vllm serve` "
                       "(default: $OPENAI_BASE_URL, else OpenAI).")
Concurrency = typer.Option(None, "--concurrency", help="Parallel API requests (default 8).")
MaxRetries = typer.Option(None, "--max-retries", help="API retries on 429/5xx/timeouts before failing (default 6).")
TensorParallel = typer.Option(None, "--tensor-parallel-size", help="vLLM: GPUs per model.")
Revision = typer.Option(None, "--revision", help="Model revision (hub branch, tag or commit).")


def rewriter_options(**opts) -> dict:
    """The options the user gave: an unset flag is left to the rewriter (which may not take it)."""
    return {k: v for k, v in opts.items() if v is not None and v is not False}


def component_args(name: str, text: str | None, option: str, flags: dict | None = None) -> tuple[str, dict]:
    """(spec, options) for a component named on the command line: inline `name(k=v)` options, the
    `--*-args k=v,...` text and explicit flags merged; one option given two different ways is an error."""
    from bright_eval.registry import merge_args, parse_args, split_options

    spec, inline = split_options(name)
    return spec, merge_args(f"'{name}'", (f"'{name}'", inline), (option, parse_args(text, option)), ("its flag", flags or {}))
