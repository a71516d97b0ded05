"""`bright-eval rewriters` (list the registry) and `bright-eval rewrite` (write a rewrite file)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from bright_eval.cache import ArtifactCache
from bright_eval.data import get_source
from bright_eval.io import check_writable_file, write_jsonl
from bright_eval.tasks import parse_tasks

from . import app, err
from .options import (BaseUrl, Backend, BatchSize, CacheDir, Compose, Concurrency, DataDir, MaxNewTokens, MaxRetries, OptPath,
                      Revision, Tasks, Temperature, TensorParallel, Think, rewriter_options)
from .render import out


@app.command("rewriters")
def list_rewriters() -> None:
    """List the rewriter names that --rewriter accepts."""
    from bright_eval.rewriters import REWRITERS

    table = Table(title="rewriters", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("what it is")
    for e in REWRITERS.entries():
        table.add_row(escape(e.name + (":<arg>" if e.prefix else "")), escape(e.description))
    out.print(table)


@app.command()
def rewrite(
    rewriter: str = typer.Option(..., "--rewriter", "-r", help="Rewriter name (see `bright-eval rewriters`)."),
    out_file: Path = typer.Option(..., "--out", help="JSONL to write: {task, id, query, original}; `file:` reads it back."),
    tasks: str = Tasks,
    data_dir: OptPath = DataDir,
    cache_dir: OptPath = CacheDir,
    compose: str = Compose, think: bool = Think, backend: str = Backend, max_new_tokens: int = MaxNewTokens,
    temperature: float = Temperature, batch_size: int = BatchSize, base_url: str = BaseUrl, concurrency: int = Concurrency,
    max_retries: int = MaxRetries, tensor_parallel_size: int = TensorParallel, revision: str = Revision,
) -> None:
    """Rewrite the queries of the given tasks and write them to a file (cached: reruns are free)."""
    from bright_eval.rewriters import REWRITERS, Query

    check_writable_file(out_file, "--out")
    source = get_source(data_dir)
    opts = rewriter_options(compose=compose, think=think, backend=backend, max_new_tokens=max_new_tokens, temperature=temperature,
                            batch_size=batch_size, base_url=base_url, concurrency=concurrency, max_retries=max_retries,
                            tensor_parallel_size=tensor_parallel_size, revision=revision)
    rw = REWRITERS.create(rewriter, opts, cache=ArtifactCache(cache_dir), source=source)
    rows = []
    for task in parse_tasks(tasks):
        qs = [Query(task, e.id, e.query) for e in source.examples(task)]
        for q, text in zip(qs, rw.rewrite(qs)):
            rows.append({"task": task, "id": q.id, "query": text, "original": q.text})
    write_jsonl(out_file, rows)
    s = rw.stats
    err.print(f"{len(rows)} rewrites -> {out_file} ({s.generated} generated, {s.from_cache} from cache, {len(s.failed)} failed"
              + (f", {s.prompt_tokens}+{s.completion_tokens} tokens" if s.prompt_tokens else "")
              + (f", ${s.cost_usd:.4f}" if s.cost_usd else "") + ")")
