"""`bright-eval run` (rewrite + retrieve + score) and `bright-eval evaluate` (score a run file)."""

from __future__ import annotations

from pathlib import Path

import typer

from bright_eval import progress as progress_mod
from bright_eval.cache import ArtifactCache
from bright_eval.data import get_source
from bright_eval.errors import BrightEvalError
from bright_eval.experiment import TaskInputs, run_cell
from bright_eval.scoring import evaluate_run, mean_metrics
from bright_eval.tasks import parse_tasks
from bright_eval.trec import read_run

from . import app, err
from .options import (BaseUrl, Backend, BatchSize, CacheDir, Compose, Concurrency, DataDir, Format, MaxNewTokens, MaxRetries, OptPath,
                      ResultsDir, Revision, Tasks, Temperature, TensorParallel, Think, TopK, rewriter_options)
from .render import check_format, emit


@app.command()
def run(
    rewriter: str = typer.Option("original", "--rewriter", "-r", help="Rewriter name (see `bright-eval rewriters`)."),
    retriever: str = typer.Option("bm25", "--retriever", "-m", help="Retriever name: bm25, bm25-lucene, or a dense model."),
    tasks: str = Tasks,
    top_k: int = TopK,
    data_dir: OptPath = DataDir,
    results_dir: Path = ResultsDir,
    cache_dir: OptPath = CacheDir,
    long_documents: bool = typer.Option(False, "--long-documents", help="Retrieve over BRIGHT's long documents."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Recompute cells that already have a results file."),
    fmt: str = Format,
    compose: str = Compose, think: bool = Think, backend: str = Backend, max_new_tokens: int = MaxNewTokens,
    temperature: float = Temperature, batch_size: int = BatchSize, base_url: str = BaseUrl, concurrency: int = Concurrency,
    max_retries: int = MaxRetries, tensor_parallel_size: int = TensorParallel, revision: str = Revision,
) -> None:
    """Rewrite the queries, retrieve, score under BRIGHT's protocol; one results JSON per task."""
    from bright_eval.retrievers import RETRIEVERS
    from bright_eval.rewriters import REWRITERS

    check_format(fmt)
    if fmt == "json":
        progress_mod.set_enabled(False)
    task_list = parse_tasks(tasks)
    cache = ArtifactCache(cache_dir)
    source = get_source(data_dir)
    opts = rewriter_options(compose=compose, think=think, backend=backend, max_new_tokens=max_new_tokens, temperature=temperature,
                            batch_size=batch_size, base_url=base_url, concurrency=concurrency, max_retries=max_retries,
                            tensor_parallel_size=tensor_parallel_size, revision=revision)
    rw = REWRITERS.create(rewriter, opts, cache=cache, source=source)
    scores, notes = {}, {}
    for task in task_list:
        inputs = TaskInputs.load(source, task, long_documents)
        ret = RETRIEVERS.create(retriever, cache=cache)
        record, reused = run_cell(inputs, rw, ret, results_dir, top_k=top_k, overwrite=overwrite)
        scores[task] = record["metrics"]
        notes[task] = "reused" if reused else f"{sum(record['timings'].values()):.1f}s"
        if fmt != "json":
            how = f"reused {record['_path']}" if reused else f"computed in {notes[task]}"
            err.print(f"[green]{task}[/]: nDCG@10 {100 * record['metrics']['ndcg@10']:.2f} ({how})", highlight=False, soft_wrap=True)
    emit(scores, fmt, f"{rewriter} + {retriever}")
    if fmt != "json":
        err.print(f"results in {results_dir}")


@app.command()
def evaluate(
    run_file: Path = typer.Argument(..., help="TREC run file: qid Q0 docid rank score tag (doc ids may contain spaces)."),
    task: str = typer.Option(..., "--task", "-t", help="The BRIGHT task the run answers."),
    top_k: int = TopK,
    data_dir: OptPath = DataDir,
    results_dir: OptPath = typer.Option(None, "--results-dir", help="Also write a results JSON here."),
    fmt: str = Format,
) -> None:
    """Score an external run file under BRIGHT's protocol (excluded ids removed, cut at --top-k)."""
    check_format(fmt)
    (name,) = parse_tasks(task) if "," not in task and task != "all" else (None,)
    if name is None:
        raise BrightEvalError("evaluate scores one task: give --task with a single task name")
    run_ = read_run(run_file)
    examples = get_source(data_dir).examples(name)
    known = {ex.id for ex in examples}
    unknown = [q for q in run_ if q not in known]
    if len(unknown) == len(run_):
        raise BrightEvalError(f"{run_file}: none of its {len(run_)} query ids belong to task '{name}' (e.g. {unknown[:3]})")
    if unknown:
        err.print(f"[yellow]warning[/]: {run_file}: {len(unknown)} query ids are not in task '{name}' and are ignored")
    per_query = evaluate_run(run_, examples, top_k)
    metrics = mean_metrics(per_query)
    if results_dir is not None:
        from bright_eval.io import atomic_write_json
        from bright_eval.provenance import environment
        from bright_eval.results import SCHEMA

        atomic_write_json(Path(results_dir) / f"{run_file.name}.{name}.json", {
            "schema": SCHEMA, "task": name, "rewriter": "external", "retriever": run_file.name,
            "config": {"task": name, "run_file": str(run_file.resolve()), "top_k": top_k},
            "metrics": metrics, "per_query": per_query, "environment": environment(),
        })
    emit({name: metrics}, fmt, f"{run_file}")
