"""`bright-eval rewriters` (list the registry) and `bright-eval rewrite` (write a rewrite file, or
show the exact requests an LLM rewriter would send)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from bright_eval.errors import BrightEvalError
from bright_eval.tasks import parse_tasks

from . import app, err
from .components import Markdown, list_registry
from .options import (
    Backend,
    BaseUrl,
    BatchSize,
    CacheDir,
    Compose,
    Concurrency,
    DataDir,
    DecodingOpt,
    MaxNewTokens,
    MaxRetries,
    OptPath,
    Prompt,
    Revision,
    RewriterArgs,
    Seed,
    Tasks,
    Temperature,
    TensorParallel,
    Think,
    component_args,
    rewriter_options,
)
from .render import esc


@app.command("rewriters")
def list_rewriters(markdown: bool = Markdown) -> None:
    """List the rewriter names and options that --rewriter / --rewriters accept."""
    from bright_eval.rewriters import REWRITERS

    list_registry(REWRITERS, "rewriters (options: --rewriter-args k=v,... or name(k=v,...))", markdown)


@app.command()
def rewrite(
    rewriter: str = typer.Option(..., "--rewriter", "-r", help="Rewriter name (see `bright-eval rewriters`)."),
    out_file: Optional[Path] = typer.Option(None, "--out", help="JSONL to write: {task, id, query, original}; `file:` reads it back."),
    tasks: str = Tasks,
    data_dir: OptPath = DataDir,
    cache_dir: OptPath = CacheDir,
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N queries of each task."),
    show_request: bool = typer.Option(False, "--show-request", help="Print one JSON request per query ({messages, sampling}) "
                                      "exactly as the backend would get it, and stop: no model is loaded, nothing is sent."),
    rewriter_args: Optional[str] = RewriterArgs,
    compose: str = Compose, think: bool = Think, prompt: str = Prompt, decoding: str = DecodingOpt, seed: int = Seed,
    backend: str = Backend, max_new_tokens: int = MaxNewTokens, temperature: float = Temperature, batch_size: int = BatchSize,
    base_url: str = BaseUrl, concurrency: int = Concurrency, max_retries: int = MaxRetries,
    tensor_parallel_size: int = TensorParallel, revision: str = Revision,
) -> None:
    """Rewrite the queries of the given tasks and write them to a file (cached: reruns are free)."""
    from bright_eval.cache import ArtifactCache
    from bright_eval.components import SendsRequests
    from bright_eval.data import get_source
    from bright_eval.io import check_writable_file, write_jsonl
    from bright_eval.rewriters import REWRITERS, Query

    if out_file is None and not show_request:
        raise BrightEvalError("rewrite: give --out FILE (or --show-request to print the requests instead)")
    if out_file is not None:
        check_writable_file(out_file, "--out")
    source = get_source(data_dir)
    flags = rewriter_options(compose=compose, think=think, prompt=prompt, decoding=decoding, seed=seed, backend=backend,
                             max_new_tokens=max_new_tokens, temperature=temperature, batch_size=batch_size, base_url=base_url,
                             concurrency=concurrency, max_retries=max_retries, tensor_parallel_size=tensor_parallel_size,
                             revision=revision)
    spec, args = component_args(rewriter, rewriter_args, "--rewriter-args", flags)
    rw = REWRITERS.create(spec, args, cache=ArtifactCache(cache_dir), source=source)
    if show_request and not isinstance(rw, SendsRequests):
        raise BrightEvalError(f"--show-request: '{rw.name}' sends no requests (its rewrites are precomputed)")
    rows = []
    for task in parse_tasks(tasks):
        qs = [Query(task, e.id, e.query) for e in source.examples(task)][:limit]
        if show_request:
            for req in rw.requests(qs):
                typer.echo(json.dumps(req, ensure_ascii=False))
            continue
        for q, text in zip(qs, rw.rewrite(qs)):
            rows.append({"task": task, "id": q.id, "query": text, "original": q.text})
    if show_request:
        return
    write_jsonl(out_file, rows)
    s = rw.stats
    err.print(f"{len(rows)} rewrites -> {esc(out_file)} ({s.generated} generated, {s.from_cache} from cache, {len(s.failed)} failed"
              + (f", {s.prompt_tokens}+{s.completion_tokens} tokens" if s.prompt_tokens else "")
              + (f", ${s.cost_usd:.4f}" if s.cost_usd else "") + ")")
