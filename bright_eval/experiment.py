"""One experiment cell: rewrite a task's queries, retrieve, score under BRIGHT's protocol, and
write a results file with its provenance. `run` loops over tasks; `matrix` crosses systems."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .data import Corpus, DataSource, Example, check_gold_in_corpus, examples_fingerprint
from .errors import BrightEvalError
from .io import fingerprint_of
from .provenance import environment
from .results import SCHEMA, existing, result_path, write_result
from .scoring import evaluate_run, mean_metrics
from .trec import write_run

log = logging.getLogger(__name__)


@dataclass
class TaskInputs:
    """What a task contributes to every cell: loaded once, shared by all systems."""

    task: str
    examples: list[Example]
    examples_fp: str
    source: str
    _corpus: Corpus | None = None
    _data: DataSource | None = None
    long_documents: bool = False

    @classmethod
    def load(cls, data: DataSource, task: str, long_documents: bool = False) -> "TaskInputs":
        exs = data.examples(task)
        return cls(task, exs, examples_fingerprint(exs), data.description, None, data, long_documents)

    @property
    def corpus(self) -> Corpus:
        if self._corpus is None:
            assert self._data is not None
            self._corpus = self._data.documents(self.task, long=self.long_documents)
            if not self.long_documents:
                check_gold_in_corpus(self.task, self.examples, self._corpus)
        return self._corpus


def bind_task(retriever, inputs: TaskInputs):
    """Task-dependent retrievers (dense models with BRIGHT's per-task instructions) are bound to the
    task before their spec is read, so the config fingerprint covers the instruction."""
    from .components import bind

    return bind(retriever, inputs.task, inputs.long_documents)


def cell_config(inputs: TaskInputs, rewriter, retriever, top_k: int) -> dict:
    return {
        "task": inputs.task,
        "rewriter": rewriter.spec(),
        "retriever": retriever.spec(),
        "top_k": top_k,
        "data_source": inputs.source,
        "examples_fingerprint": inputs.examples_fp,
        "long_documents": inputs.long_documents,
        "protocol": "bright: excluded_ids removed before top-k; gold_ids grade 1; pytrec_eval",
    }


def rewrite_queries(inputs: TaskInputs, rewriter) -> dict[str, str]:
    from bright_eval.rewriters import Query

    qs = [Query(inputs.task, ex.id, ex.query) for ex in inputs.examples]
    out = rewriter.rewrite(qs)
    if len(out) != len(qs):
        raise BrightEvalError(f"rewriter '{rewriter.name}' returned {len(out)} texts for {len(qs)} queries of task {inputs.task}")
    return {q.id: text for q, text in zip(qs, out)}


def run_cell(inputs: TaskInputs, rewriter, retriever, results_dir: Path, top_k: int = 1000,
             indexed: bool = False, overwrite: bool = False, rewritten: dict[str, str] | None = None) -> tuple[dict, bool]:
    """Returns (result record, reused). With `indexed`, the retriever already holds this task's corpus."""
    if not indexed:  # an indexed retriever is already bound to this task
        retriever = bind_task(retriever, inputs)
    config = cell_config(inputs, rewriter, retriever, top_k)
    cfp = fingerprint_of(config)
    path = result_path(results_dir, rewriter.name, retriever.name, inputs.task)
    if not overwrite:
        prev = existing(path, cfp)
        if prev is not None:
            return prev, True

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if rewritten is None:
        rewritten = rewrite_queries(inputs, rewriter)
    timings["rewrite_s"] = time.perf_counter() - t0

    corpus = inputs.corpus
    if not indexed:
        t0 = time.perf_counter()
        retriever.index(corpus)
        timings["index_s"] = time.perf_counter() - t0
    exclude = {ex.id: set(ex.excluded_ids) for ex in inputs.examples if ex.excluded_ids}
    t0 = time.perf_counter()
    run = retriever.search(rewritten, k=top_k, exclude=exclude)
    timings["search_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    per_query = evaluate_run(run, inputs.examples, top_k)
    timings["score_s"] = time.perf_counter() - t0

    run_name = f"{inputs.task}.run.gz"
    write_run(path.parent / run_name, run, tag=f"{rewriter.name}+{retriever.name}")
    stats = getattr(rewriter, "stats", None)
    record = {
        "schema": SCHEMA,
        "task": inputs.task,
        "rewriter": rewriter.name,
        "retriever": retriever.name,
        "config": config,
        "config_fingerprint": cfp,
        "data": {
            "source": inputs.source,
            "examples_fingerprint": inputs.examples_fp,
            "corpus_fingerprint": corpus.fingerprint,
            "corpus_origin": corpus.origin,
            "n_queries": len(inputs.examples),
            "n_docs": len(corpus),
        },
        "metrics": mean_metrics(per_query),
        "per_query": per_query,
        "queries": {ex.id: {"original": ex.query, "rewritten": rewritten[ex.id]} for ex in inputs.examples},
        "rewriter_stats": asdict(stats) if stats is not None and hasattr(stats, "__dataclass_fields__") else (stats or {}),
        "run_file": run_name,
        "timings": timings,
        "environment": environment(),
    }
    write_result(path, record)
    return record, False
