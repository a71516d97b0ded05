"""Results files: one JSON per (rewriter, retriever, task) with its TREC run beside it.

Leaderboards and reports read these back and never recompute retrieval.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from .io import atomic_write_json, fingerprint_of

SCHEMA = "bright-eval.result/1"
log = logging.getLogger(__name__)


def slug(name: str) -> str:
    """A file-system-safe name; long or lossy ones keep a hash so two systems never share a folder."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "x"
    if s != name or len(s) > 60:
        s = f"{s[:48]}-{fingerprint_of(name)[:8]}"
    return s


def cell_dir(results_dir: Path, rewriter: str, retriever: str) -> Path:
    return Path(results_dir) / slug(rewriter) / slug(retriever)


def result_path(results_dir: Path, rewriter: str, retriever: str, task: str) -> Path:
    return cell_dir(results_dir, rewriter, retriever) / f"{task}.json"


def write_result(path: Path, record: dict) -> None:
    atomic_write_json(path, record)


def read_result(path: Path) -> dict | None:
    """A valid results record, or None (with a warning naming the file) for anything else."""
    try:
        rec = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("%s: skipped, not readable as JSON (%s)", path, exc)
        return None
    if not isinstance(rec, dict) or rec.get("schema") != SCHEMA:
        log.warning("%s: skipped, not a bright-eval result (expected schema %s)", path, SCHEMA)
        return None
    for key in ("task", "rewriter", "retriever", "metrics", "per_query"):
        if key not in rec:
            log.warning("%s: skipped, missing field '%s'", path, key)
            return None
    rec["_path"] = str(path)
    return rec


def load_results(results_dir: Path | str) -> list[dict]:
    root = Path(results_dir)
    if not root.exists():
        return []
    out = []
    for path in sorted(root.rglob("*.json")):
        rec = read_result(path)
        if rec is not None:
            out.append(rec)
    return out


def existing(path: Path, config_fingerprint: str) -> dict | None:
    """The stored result if it was made with the same configuration (resume support)."""
    if not path.exists():
        return None
    rec = read_result(path)
    if rec and rec.get("config_fingerprint") == config_fingerprint:
        return rec
    return None
