"""Results files: one JSON per (rewriter, retriever, reranker, task, settings) with its TREC run beside it.

Leaderboards and reports read these back and never recompute retrieval.
"""

from __future__ import annotations

import json
import logging
import re

from .io import fingerprint_of
from .record import OLD_SCHEMAS, SCHEMA, RecordError, ResultRecord
from .storage import Place, location, write_json

log = logging.getLogger(__name__)
__all__ = ["SCHEMA", "ResultRecord", "slug", "result_path", "write_result", "read_result", "load_results", "existing",
           "reuse_problem"]


def slug(name: str) -> str:
    """A file-system-safe name; long or lossy ones keep a hash so two systems never share a folder."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "x"
    if s != name or len(s) > 60:
        s = f"{s[:48]}-{fingerprint_of(name)[:8]}"
    return s


def result_path(results_dir: Place | str, rewriter: str, retriever: str, task: str, reranker: str | None = None,
                tag: str = "") -> Place:
    folder = location(results_dir) / slug(rewriter) / slug(retriever)
    if reranker is not None:
        folder = folder / ("rerank-" + slug(reranker))
    name = task if not tag else f"{task}@{slug(tag)}"
    return folder / f"{name}.json"


def write_result(path: Place, record: ResultRecord) -> None:
    write_json(path, record.to_dict())


def read_result(path: Place | str) -> ResultRecord | None:
    """A valid results record, or None (with a warning naming the file) for anything else."""
    try:
        obj = json.loads(location(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("%s: skipped, not readable as JSON (%s)", path, exc)
        return None
    if not isinstance(obj, dict) or obj.get("schema") not in (SCHEMA, *OLD_SCHEMAS):
        log.warning("%s: skipped, not a bright-eval result (expected schema %s)", path, SCHEMA)
        return None
    try:
        return ResultRecord.from_dict(obj, str(path))
    except (RecordError, TypeError) as exc:
        log.warning("%s: skipped, %s", path, exc)
        return None


def reuse_problem(rec: ResultRecord, path: Place) -> str:
    """Why a valid record still cannot stand in for its cell ('' when it can): the run file it names
    is the ranking its numbers came from (what trec_eval or a reader re-scores), so a record that
    has lost it is recomputed rather than reused without it."""
    if rec.run_file and not (location(path).parent / rec.run_file).exists():
        return f"its run file {rec.run_file} is missing"
    return ""


def load_results(results_dir: Place | str) -> list[ResultRecord]:
    root = location(results_dir)
    if not root.exists():
        return []
    out = []
    for path in sorted(root.rglob("*.json")):
        rec = read_result(path)
        if rec is not None:
            out.append(rec)
    return out


def existing(path: Place, identity_fingerprint: str) -> ResultRecord | None:
    """The stored result if it was made from the same inputs (the reuse rule)."""
    if not path.exists():
        return None
    rec = read_result(path)
    if rec is not None and rec.identity_fingerprint == identity_fingerprint and not reuse_problem(rec, path):
        return rec
    return None


def system_label(rec: ResultRecord, with_tag: bool = True) -> tuple[str, str]:
    """(rewriter, retriever) as tables show them: the reranker and non-default settings ride on the retriever."""
    ret = rec.retriever + (f" >> {rec.reranker}" if rec.reranker else "")
    if with_tag and rec.tag:
        ret += f" [{rec.tag}]"
    return rec.rewriter, ret


def first_stage_label(rec: ResultRecord) -> tuple[str, str]:
    """The label of the run a reranked record reranked: same rewriter, retriever and settings."""
    from dataclasses import replace

    settings = {k: v for k, v in rec.settings.items() if not k.startswith("rerank_")}
    return system_label(replace(rec, reranker=None, settings=settings))


def by_system(records: list[ResultRecord], settings: str | None = None, split_settings: bool = False
              ) -> dict[tuple[str, str], dict[str, ResultRecord]]:
    """{(rewriter, retriever label): {task: record}}. Two settings for one system are never averaged
    together: pick one with `settings` (a tag such as 'top_k=100'; '' is BRIGHT's defaults) or keep
    each as its own system with `split_settings`; otherwise this raises and says which it met."""
    from .errors import BrightEvalError

    if settings is not None:
        want = settings.replace(" ", "")
        records = [r for r in records if r.tag == want]
    tags: dict[tuple, set[str]] = {}
    for rec in records:
        tags.setdefault(system_label(rec, False), set()).add(rec.tag)
    mixed = {k: v for k, v in tags.items() if len(v) > 1}
    if mixed and not split_settings:
        (rw, ret), found = next(iter(mixed.items()))
        shown = " / ".join(sorted(t or "BRIGHT defaults" for t in found))
        raise BrightEvalError(f"results for {rw} + {ret} were made with different settings ({shown}); not mixing them. "
                              f"Pick one with --settings '{sorted(found)[-1]}' ('' for BRIGHT's defaults), "
                              f"or show each as its own row with --split-settings")
    out: dict[tuple[str, str], dict[str, ResultRecord]] = {}
    for rec in records:
        group = out.setdefault(system_label(rec), {})
        if rec.task in group:
            log.warning("%s: a second result for %s on %s; keeping %s", rec.path, " + ".join(system_label(rec)), rec.task,
                        group[rec.task].path)
            continue
        group[rec.task] = rec
    return out
