"""TREC run and qrels files. Doc ids may contain spaces (BRIGHT's stackoverflow has them), so
lines are split from both ends: the id is whatever lies between the fixed leading and trailing columns."""

from __future__ import annotations

from pathlib import Path

from .errors import BrightEvalError
from .io import atomic_write_text, open_text

Run = dict[str, dict[str, float]]
Qrels = dict[str, dict[str, int]]


def read_run(path: Path | str) -> Run:
    path = Path(path)
    if not path.exists():
        raise BrightEvalError(f"{path}: run file not found")
    run: Run = {}
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            head = line.split(maxsplit=2)
            tail = head[2].rsplit(maxsplit=3) if len(head) == 3 else []
            if len(tail) != 4:
                raise BrightEvalError(f"{path}:{lineno}: expected 'qid Q0 docid rank score tag', got {line.strip()[:80]!r}")
            qid, docid, score = head[0], tail[0], tail[2]
            try:
                value = float(score)
            except ValueError:
                raise BrightEvalError(f"{path}:{lineno}: field 'score' must be a number, got {score!r}") from None
            run.setdefault(qid, {})[docid] = value
    if not run:
        raise BrightEvalError(f"{path}: run file is empty")
    return run


def ranked(docs: dict[str, float]) -> list[tuple[str, float]]:
    # trec_eval's order: score descending, then doc id descending.
    return sorted(docs.items(), key=lambda kv: (-kv[1], _desc(kv[0])))


class _desc(str):
    def __lt__(self, other):  # type: ignore[override]
        return str.__gt__(self, other)


def format_run(run: Run, tag: str = "bright-eval") -> str:
    lines = []
    for qid, docs in run.items():
        for rank, (docid, score) in enumerate(ranked(docs), 1):
            lines.append(f"{qid} Q0 {docid} {rank} {score:.9g} {tag}\n")
    return "".join(lines)


def write_run(path: Path | str, run: Run, tag: str = "bright-eval") -> None:
    atomic_write_text(path, format_run(run, tag.replace(" ", "_")))


def read_qrels(path: Path | str) -> Qrels:
    path = Path(path)
    if not path.exists():
        raise BrightEvalError(f"{path}: qrels file not found")
    qrels: Qrels = {}
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            head = line.split(maxsplit=2)
            tail = head[2].rsplit(maxsplit=1) if len(head) == 3 else []
            if len(tail) != 2:
                raise BrightEvalError(f"{path}:{lineno}: expected 'qid 0 docid relevance', got {line.strip()[:80]!r}")
            try:
                rel = int(tail[1])
            except ValueError:
                raise BrightEvalError(f"{path}:{lineno}: field 'relevance' must be an integer, got {tail[1]!r}") from None
            qrels.setdefault(head[0], {})[tail[0]] = rel
    return qrels
