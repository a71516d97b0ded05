"""`bright-eval data ...`: check a data source, and mirror the hub to a local folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from bright_eval.errors import BrightEvalError, DataNotFound
from bright_eval.tasks import SE_TASKS, parse_tasks

from . import app, err, sub_app
from .options import DataDir, HubRepo, OptPath, Tasks
from .render import esc, out

data_app = sub_app(help="Inspect BRIGHT data and make local mirrors.", no_args_is_help=True)
app.add_typer(data_app, name="data")

@data_app.command("check")
def check(tasks: str = Tasks, data_dir: OptPath = DataDir,
          documents: bool = typer.Option(True, "--documents/--no-documents", help="Also load and check the documents.")) -> None:
    """Load each task, validate it, and report counts (and gold ids missing from the corpus)."""
    from rich.table import Table

    from bright_eval.data import check_gold_in_corpus, get_source

    source = get_source(data_dir)
    table = Table(title=f"BRIGHT data: {esc(source.description)}", title_justify="left")
    for col in ("task", "queries", "gold/query", "queries w/ excluded", "docs", "gold missing"):
        table.add_column(col, justify="right" if col != "task" else "left")
    for task in parse_tasks(tasks):
        exs = source.examples(task)
        n_docs, missing = "-", "-"
        if documents:
            try:
                corpus = source.documents(task)
                for _ in corpus.texts:  # a run reads texts lazily; a check reads every one
                    pass
                n_docs, missing = f"{len(corpus):,}", str(check_gold_in_corpus(task, exs, corpus))
            except DataNotFound as exc:  # BRIGHT's local layout often has no documents; a broken file is an error
                n_docs = "[red]missing[/]"
                err.print(f"[yellow]{task}[/]: {esc(exc)}")
        table.add_row(task, str(len(exs)), f"{sum(len(e.gold_ids) for e in exs) / max(len(exs), 1):.2f}",
                      str(sum(1 for e in exs if e.excluded_ids)), n_docs, missing)
    out.print(table)

@data_app.command("export")
def export(
    to: Path = typer.Option(..., "--out", "-o", "--to", help="Folder to write the mirror into (created)."),
    tasks: str = Tasks,
    data_dir: OptPath = DataDir,
    hub_repo: Optional[str] = HubRepo,
    revision: Optional[str] = typer.Option(None, "--revision", "--data-revision", envvar="BRIGHT_REVISION",
                                           help="Pin BRIGHT's hub revision (branch, tag or commit)."),
    layout: str = typer.Option("folder", "--layout",
        help="folder (what --data-dir reads) or hub (xlangai/BRIGHT's parquet layout, for --hub-repo or an upload)."),
    long_documents: bool = typer.Option(True, "--long-documents/--no-long-documents"),
    reasoning: bool = typer.Option(True, "--reasoning/--no-reasoning", help="Also export the precomputed reasoning queries."),
) -> None:
    """Write a local mirror (examples, qrels, documents, long documents, reasoning) from the hub, or
    from another local folder, in the layout `--data-dir` reads (or, with --layout hub, the hub's).
    For offline clusters. SOURCE.json records the source, its revision and each written file's hash."""
    from bright_eval.bright_identity import SOURCE_FILE, exported_from, source_record
    from bright_eval.data import HubSource, get_source, reasoning_names
    from bright_eval.hub import copy_proxy_note
    from bright_eval.io import atomic_write_text, check_writable_dir

    if layout not in ("folder", "hub"):
        raise BrightEvalError(f"--layout must be folder or hub, got '{layout}'")
    check_writable_dir(to, "--out")
    source = get_source(data_dir, hub_repo, revision, revision_option="--revision/--data-revision")
    task_list = parse_tasks(tasks)
    names = reasoning_names(source) if reasoning else []
    if layout == "hub":
        from bright_eval.hub import write_hub_repo

        configs = write_hub_repo(source, to, task_list, names, long_documents)
        err.print(esc(f"hub-layout repository written to {to}: " + ", ".join(f"{c} ({len(t)})" for c, t in configs.items())))
    else:
        for task in task_list:
            _export_task(source, to / task, task, long_documents, names)
    # Where this copy comes from, and the hash of every file written: `reproduce` trusts a copy as
    # BRIGHT only when it names xlangai/BRIGHT at a revision and its files are still these.
    bright_repo, bright_rev = exported_from(source, task_list)
    rev = bright_rev or (source.revision_id if isinstance(source, HubSource) else None)
    copy_proxy_note(source, to)
    record = source_record(to, task_list, layout, source.description, bright_repo, rev)
    atomic_write_text(to / SOURCE_FILE, json.dumps(record, indent=1) + "\n")

def _export_task(source, folder: Path, task: str, long_documents: bool, names: list[str]) -> None:
    from bright_eval.io import write_jsonl

    exs = source.examples(task)
    write_jsonl(folder / "examples.jsonl", (e.to_record() for e in exs))
    (folder / "qrels.txt").write_text("".join(f"{e.id} 0 {g} 1\n" for e in exs for g in e.gold_ids), encoding="utf-8")
    docs = source.documents(task)
    write_jsonl(folder / "documents.jsonl.gz", ({"id": i, "content": t} for i, t in zip(docs.ids, docs.texts)))
    n_long = "-"
    if long_documents:
        try:
            long_docs = source.documents(task, long=True)
            write_jsonl(folder / "long_documents.jsonl.gz", ({"id": i, "content": t} for i, t in zip(long_docs.ids, long_docs.texts)))
            n_long = f"{len(long_docs):,}"
        except DataNotFound as exc:
            err.print(f"[yellow]{task}[/]: long documents skipped: {esc(exc)}")
    for name in names:
        try:
            rs = source.reasoning(task, name)
        except DataNotFound:
            continue  # this task has no such set
        write_jsonl(folder / "reasoning" / f"{name}.jsonl", ({"id": k, "query": v} for k, v in rs.items()))
    err.print(f"[green]{task}[/]: {len(exs)} queries, {len(docs):,} documents, {n_long} long documents -> {esc(folder)}")

@data_app.command("proxy")
def proxy(
    to: Path = typer.Option(..., "--out", "-o", "--to", help="Folder to write the proxy data set into."),
    data_dir: OptPath = DataDir,
    tasks: str = typer.Option(",".join(SE_TASKS), "--tasks",
                              help="Stack Exchange tasks to include (they carry gold_answer)."),
) -> None:
    """Build the answer-retrieval proxy (questions -> their accepted answers) from BRIGHT's examples.
    Real text, real queries, NOT BRIGHT's corpus: for machines without BRIGHT's documents."""
    from bright_eval.data import get_source
    from bright_eval.io import check_writable_dir
    from bright_eval.proxy import build_proxy

    check_writable_dir(to, "--out")
    counts = build_proxy(get_source(data_dir), to, tuple(parse_tasks(tasks)))
    err.print(f"proxy written to {esc(to)}: {sum(counts.values())} queries over {len(counts)} tasks, {sum(counts.values())} answers in the pool")
