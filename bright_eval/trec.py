"""TREC run and qrels files. Doc ids may contain spaces (BRIGHT's stackoverflow has them), so
lines are split from both ends: the id is whatever lies between the fixed leading and trailing columns."""

from __future__ import annotations

import logging
import math
from operator import itemgetter
from pathlib import Path

from .errors import BrightEvalError
from .io import atomic_write_text, iter_lines

log = logging.getLogger(__name__)

Run = dict[str, dict[str, float]]
Qrels = dict[str, dict[str, int]]


RUN_COLUMNS = "expected 6 columns 'qid Q0 docid rank score tag'"


def read_run(path: Path | str) -> Run:
    """Read a TREC run. Lines are anchored by 'Q0' (column 2) and an integer rank (column 4 from the
    end), which catches a missing tag column even when the doc id has spaces. Scores must be finite;
    a (query, doc) pair listed twice with different scores is an error (which one is meant?), twice with
    the same score a warning."""
    path = Path(path)
    if not path.exists():
        raise BrightEvalError(f"{path}: run file not found")
    run: Run = {}
    first_line: dict[tuple[str, str], int] = {}
    repeats: list[int] = []
    for lineno, line in iter_lines(path, "a TREC run file 'qid Q0 docid rank score tag'"):
        if not line.strip():
            continue
        qid, docid, value = _run_line(path, lineno, line)
        docs = run.setdefault(qid, {})
        if docid in docs:
            first = first_line[qid, docid]
            if docs[docid] != value:
                raise BrightEvalError(
                    f"{path}:{lineno}: doc '{docid}' is listed again for query '{qid}' with a different score ({value:g}; line "
                    f"{first} has {docs[docid]:g}); duplicates with different scores are an error: keep one line per (qid, docid)")
            repeats.append(lineno)
            continue
        docs[docid] = value
        first_line[qid, docid] = lineno
    if not run:
        raise BrightEvalError(f"{path}: run file is empty; {RUN_COLUMNS}")
    if repeats:
        log.warning("%s: %d line(s) repeat an earlier (qid, docid) line with the same score (first repeat: line %d); "
                    "kept the earlier line of each", path, len(repeats), repeats[0])
    return run


def _run_line(path: Path, lineno: int, line: str) -> tuple[str, str, float]:
    head = line.split(maxsplit=2)
    tail = head[2].rsplit(maxsplit=3) if len(head) == 3 else []
    if len(tail) != 4:
        raise BrightEvalError(f"{path}:{lineno}: {RUN_COLUMNS}, got {line.strip()[:80]!r}")
    qid, q0, (docid, rank, score, _tag) = head[0], head[1], tail
    if q0.upper() not in ("Q0", "0"):
        raise BrightEvalError(f"{path}:{lineno}: field 2 must be 'Q0', got {q0!r}; {RUN_COLUMNS}")
    try:
        int(rank)
    except ValueError:
        # A doc id with spaces and no tag column shifts the columns: the rank slot then holds part of the id.
        raise BrightEvalError(f"{path}:{lineno}: field 'rank' must be an integer, got {rank!r}; {RUN_COLUMNS} "
                              f"(is the tag column missing?)") from None
    try:
        value = float(score)
    except ValueError:
        raise BrightEvalError(f"{path}:{lineno}: field 'score' must be a number, got {score!r}") from None
    if not math.isfinite(value):
        raise BrightEvalError(f"{path}:{lineno}: field 'score' must be a finite number, got {score!r}; "
                              f"leave out documents that should not be ranked")
    return qid, docid, value


def ranked(docs: dict[str, float]) -> list[tuple[str, float]]:
    # trec_eval's order: score descending, then doc id descending.
    # Two sorts in C instead of one with a Python key: doc ids descending (unique, so the tuples
    # never compare scores), then a stable sort by score that keeps that order among ties.
    items = sorted(docs.items(), reverse=True)
    items.sort(key=itemgetter(1), reverse=True)
    return items


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
    for lineno, line in iter_lines(path, "a TREC qrels file 'qid 0 docid relevance'"):
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
