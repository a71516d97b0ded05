"""`bright-eval run` (one rewriter x one retriever: a matrix of one) and `bright-eval evaluate` (score a run file)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from bright_eval import progress as progress_mod
from bright_eval.errors import BrightEvalError
from bright_eval.tasks import parse_tasks

from . import app, err
from .matrix import run_request, summarize
from .options import (
    Backend,
    BaseUrl,
    BatchSize,
    CacheDir,
    Compose,
    Concurrency,
    DataDir,
    DataRevision,
    DecodingOpt,
    Format,
    HubRepo,
    MaxNewTokens,
    MaxRetries,
    OptPath,
    PlaceArg,
    Prompt,
    ResultsDir,
    Revision,
    RewriterArgs,
    Seed,
    Tasks,
    Temperature,
    TensorParallel,
    Think,
    TopK,
    component_args,
    results_location,
    rewriter_options,
)
from .render import check_format, emit, esc


@app.command()
def run(
    rewriter: str = typer.Option("original", "--rewriter", "-r", help="Rewriter name (see `bright-eval rewriters`)."),
    retriever: str = typer.Option("bm25", "--retriever", "-m", help="Retriever name (see `bright-eval retrievers`)."),
    reranker: Optional[str] = typer.Option(None, "--reranker", help="Reranker name (see `bright-eval rerankers`); default none."),
    rewriter_args: Optional[str] = RewriterArgs,
    retriever_args: Optional[str] = typer.Option(None, "--retriever-args", help="Retriever options k=v,..., e.g. k1=1.2,b=0.75."),
    reranker_args: Optional[str] = typer.Option(None, "--reranker-args", help="Reranker options k=v,..."),
    rerank_depth: int = typer.Option(100, "--rerank-depth", min=1, help="First-stage documents reranked (BRIGHT: 10 or 100)."),
    rerank_query: str = typer.Option("original", "--rerank-query", help="Query the reranker sees: original (BRIGHT) or rewritten."),
    tasks: str = Tasks,
    top_k: int = TopK,
    data_dir: OptPath = DataDir,
    hub_repo: Optional[str] = HubRepo,
    data_revision: Optional[str] = DataRevision,
    results_dir: PlaceArg = ResultsDir,
    cache_dir: OptPath = CacheDir,
    long_documents: bool = typer.Option(False, "--long-documents", help="Retrieve over BRIGHT's long documents."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (reuse / compute / blocked, with reasons); compute nothing."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Recompute cells that already have a results file."),
    fmt: str = Format,
    compose: str = Compose, think: bool = Think, prompt: str = Prompt, decoding: str = DecodingOpt, seed: int = Seed,
    backend: str = Backend, max_new_tokens: int = MaxNewTokens, temperature: float = Temperature, batch_size: int = BatchSize,
    base_url: str = BaseUrl, concurrency: int = Concurrency, max_retries: int = MaxRetries,
    tensor_parallel_size: int = TensorParallel, revision: str = Revision,
) -> None:
    """Rewrite the queries, retrieve (and rerank), score under BRIGHT's protocol; one results JSON per task."""
    from bright_eval.experiment import build_request
    check_format(fmt)
    if reranker_args and not reranker:
        raise BrightEvalError("--reranker-args given without --reranker: name the reranker they are for")
    if fmt == "json":
        progress_mod.set_enabled(False)
    flags = rewriter_options(compose=compose, think=think, prompt=prompt, decoding=decoding, seed=seed, backend=backend,
                             max_new_tokens=max_new_tokens, temperature=temperature, batch_size=batch_size, base_url=base_url,
                             concurrency=concurrency, max_retries=max_retries, tensor_parallel_size=tensor_parallel_size,
                             revision=revision)
    # Each component's options from every place they can be given, merged once (conflicts are errors);
    # the request then names each component by its spec alone.
    rw_spec, rw_args = component_args(rewriter, rewriter_args, "--rewriter-args", flags)
    ret_spec, ret_args = component_args(retriever, retriever_args, "--retriever-args")
    rr = component_args(reranker, reranker_args, "--reranker-args") if reranker else None
    conf = {"rewriter_args": {rw_spec: rw_args}, "retriever_args": {ret_spec: ret_args}, "reranker_args": {rr[0]: rr[1]} if rr else {}}
    request = build_request([rw_spec], [ret_spec], tasks, conf, top_k=top_k, long_documents=long_documents,
                            rerankers=[rr[0]] if rr else None, rerank_depth=rerank_depth, rerank_query=rerank_query)
    from bright_eval.cache import ArtifactCache

    cache = ArtifactCache(cache_dir)
    cells = run_request(request, data_dir, results_dir, cache, overwrite, dry_run, fmt, live=False, hub_repo=hub_repo,
                        data_revision=data_revision)
    if dry_run:
        return
    last = [c for c in cells if (c.reranker is not None) == bool(reranker)]  # with a reranker, its cells are the answer
    if fmt != "json":
        for c in last:
            if c.ndcg10 is not None:
                how = "reused" if c.status == "reused" else f"computed in {c.seconds:.1f}s"
                err.print(f"[green]{c.task}[/]: nDCG@10 {100 * c.ndcg10:.2f} ({how})", highlight=False, soft_wrap=True)
    from bright_eval.results import read_result

    scores = {}
    for c in last:
        rec = read_result(c.path) if c.status in ("done", "reused") else None
        if rec is not None:
            scores[c.task] = rec.metrics
    if scores:
        emit(scores, fmt, f"{rewriter} + {retriever}" + (f" >> {reranker}" if reranker else ""))
    failed = [c for c in cells if c.status == "failed"]
    if failed:  # what finished is written; the user gets one line per distinct cause
        raise BrightEvalError("; ".join(dict.fromkeys(f"{c.task}: {c.error}" if len(cells) > 1 else c.error for c in failed)))
    summarize(cells, cache, results_dir, "quiet" if fmt == "json" else fmt)


@app.command()
def evaluate(
    run_file: Path = typer.Argument(..., help="TREC run file: qid Q0 docid rank score tag (doc ids may contain spaces)."),
    task: str = typer.Option(..., "--task", "-t", help="The BRIGHT task the run answers."),
    top_k: int = TopK,
    data_dir: OptPath = DataDir,
    results_dir: Optional[PlaceArg] = typer.Option(None, "--results-dir", parser=results_location,
                                                   help="Also write a results JSON here (the same record `run` writes): a folder or URL."),
    fmt: str = Format,
) -> None:
    """Score an external run file under BRIGHT's protocol (excluded ids removed, cut at --top-k)."""
    from bright_eval.data import examples_fingerprint, get_source
    from bright_eval.fingerprints import file_fingerprint
    from bright_eval.io import fingerprint_of
    from bright_eval.plan import PROTOCOL
    from bright_eval.record import ResultRecord, settings_tag
    from bright_eval.results import result_path, write_result
    from bright_eval.scoring import evaluate_run, mean_metrics
    from bright_eval.trec import read_run

    check_format(fmt)
    names = parse_tasks(task)
    if len(names) != 1:
        raise BrightEvalError("evaluate scores one task: give --task with a single task name")
    (name,) = names
    if results_dir is not None:
        from bright_eval.storage import check_writable

        check_writable(results_dir, "--results-dir")
    run_ = read_run(run_file)
    source = get_source(data_dir)
    examples = source.examples(name)
    known = {ex.id for ex in examples}
    unknown = [q for q in run_ if q not in known]
    if len(unknown) == len(run_):
        raise BrightEvalError(f"{run_file}: none of its {len(run_)} query ids belong to task '{name}' (e.g. {unknown[:3]})")
    if unknown:
        err.print(f"[yellow]warning[/]: {esc(run_file)}: {len(unknown)} query ids are not in task '{name}' and are ignored")
    warnings = [f"{len(unknown)} query ids not in task '{name}' were ignored"] if unknown else []
    doc_warning = _unknown_doc_ids(run_, source, name, run_file)
    if doc_warning:
        warnings.append(doc_warning)
    per_query = evaluate_run(run_, examples, top_k)
    metrics = mean_metrics(per_query)
    if results_dir is not None:
        from rich.markup import escape

        settings = {"top_k": top_k, "long_documents": False}
        digest = file_fingerprint(run_file)
        identity = {"task": name, "run_file": "file:" + digest, "settings": settings, "protocol": PROTOCOL,
                    "data": {"examples": examples_fingerprint(examples)}}
        # Named by the file's path and content: a/run.txt and b/run.txt never share a folder, an
        # edited run does not replace the numbers of the one before, and the same file scored again
        # lands where it did.
        label = f"{run_file.name}@{fingerprint_of([str(run_file.resolve()), digest])[:8]}"
        rec = ResultRecord.build(identity=identity, task=name, rewriter="external", retriever=label, settings=settings,
                                 data={"source": source.description, "examples_fingerprint": identity["data"]["examples"],
                                       "run_file": str(run_file.resolve())},
                                 metrics=metrics, per_query=per_query, warnings=warnings)
        path = result_path(results_dir, "external", label, name, tag=settings_tag(settings))
        write_result(path, rec)
        err.print(f"wrote {escape(str(path))} (external + {escape(label)})", highlight=False, soft_wrap=True)
    emit({name: metrics}, fmt, f"{run_file}")


def _unknown_doc_ids(run_, source, task: str, run_file: Path) -> str:
    """A run scored against the wrong task (or corpus) still gives numbers, all near zero: say so,
    with the count. '' when every document id is in the task's documents."""
    import logging

    log = logging.getLogger(__name__)
    ids = {d for docs in run_.values() for d in docs}
    try:
        corpus = source.documents(task).id_set
    except BrightEvalError as exc:
        msg = f"{run_file}: its document ids were not checked against task '{task}' ({exc})"
        log.warning(msg)
        return msg
    missing = len(ids - corpus)
    if not missing:
        return ""
    if missing == len(ids):
        msg = (f"{run_file}: none of its {len(ids)} document ids are in the documents of task '{task}'; "
               f"every score is 0 (is it a run for another task or corpus?)")
    else:
        msg = f"{run_file}: {missing} of its {len(ids)} document ids are not in the documents of task '{task}'; they count as non-relevant"
    log.warning(msg)
    return msg
