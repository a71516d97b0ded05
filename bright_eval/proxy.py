"""An answer-retrieval proxy of BRIGHT for machines without BRIGHT's documents.

BRIGHT's seven Stack Exchange tasks ship each question's accepted answer (`gold_answer`). The proxy
corpus is the pool of those answers across the chosen tasks, and each question's single relevant
document is its own answer. It is real text with real queries, so it exercises every code path and
shows whether a rewrite moves a query towards its answer, but it is NOT BRIGHT's corpus and its
numbers are not comparable with BRIGHT's tables.
"""

from __future__ import annotations

from pathlib import Path

from .data import DataSource, Example, LocalSource
from .io import write_jsonl
from .tasks import SE_TASKS


def answer_id(task: str, qid: str) -> str:
    return f"{task}/answer_{qid}"


def build_proxy(source: DataSource, out: Path, tasks: tuple[str, ...] = SE_TASKS, copy_reasoning: bool = True) -> dict[str, int]:
    """Write a `--data-dir` folder: per task, examples re-pointed at answers, and one shared answer pool."""
    examples = {t: [e for e in source.examples(t) if e.gold_answer.strip()] for t in tasks}
    pool = [{"id": answer_id(t, e.id), "content": e.gold_answer} for t in tasks for e in examples[t]]
    counts = {}
    for task in tasks:
        folder = out / task
        exs = [Example(id=e.id, query=e.query, gold_ids=[answer_id(task, e.id)], reasoning=e.reasoning) for e in examples[task]]
        write_jsonl(folder / "examples.jsonl", (e.to_record() for e in exs))
        (folder / "qrels.txt").write_text("".join(f"{e.id} 0 {e.gold_ids[0]} 1\n" for e in exs), encoding="utf-8")
        write_jsonl(folder / "documents.jsonl.gz", pool)
        if copy_reasoning and isinstance(source, LocalSource):
            src = Path(source.root) / task / "reasoning"
            for f in sorted(src.glob("*.jsonl")) if src.is_dir() else []:
                (folder / "reasoning").mkdir(parents=True, exist_ok=True)
                (folder / "reasoning" / f.name).write_bytes(f.read_bytes())
        counts[task] = len(exs)
    (out / "PROXY.md").write_text(__doc__ or "", encoding="utf-8")
    return counts
