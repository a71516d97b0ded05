"""Experiment files: a TOML `[matrix]` table that becomes a plan `Request` (see bright_eval/plan.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import BrightEvalError
from .plan import ComponentRef, Request, as_refs
from .registry import merge_args

_ARG_TABLES = ("rewriter_args", "retriever_args", "reranker_args")
_ALIASES = {"rewriter_options": "rewriter_args", "retriever_options": "retriever_args"}  # names before schema 2
_CONFIG_KEYS = {"rewriters", "retrievers", "rerankers", "tasks", "top_k", "long_documents", "rerank_depth", "rerank_query",
                "data_dir", "results_dir", "cache_dir", "executor", "address", "resources", *_ARG_TABLES, *_ALIASES}


def read_config(path: Path | str) -> dict[str, Any]:
    """An experiment TOML: a `[matrix]` table (or top-level keys) with rewriters, retrievers, rerankers,
    tasks, top_k, long_documents, rerank_depth, rerank_query, data_dir, results_dir, cache_dir (paths
    relative to the file; results_dir may be an fsspec URL), executor (local or ray), address (a Ray
    cluster), a `[matrix.resources.<kind or component>]` table for Ray (see executors/resources.py), and
    optional `[matrix.rewriter_args.<name>]` / `[matrix.retriever_args.<name>]`
    / `[matrix.reranker_args.<name>]` tables of component options."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        from .errors import require

        tomllib = require("tomli", "core", "reading --config on Python 3.10")
    from .io import read_text

    path = Path(path)
    try:
        doc = tomllib.loads(read_text(path, "an experiment TOML file"))
    except tomllib.TOMLDecodeError as exc:
        raise BrightEvalError(f"{path}: not valid TOML ({exc})") from None
    table = doc.get("matrix", doc)
    unknown = set(table) - _CONFIG_KEYS
    if unknown:
        raise BrightEvalError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; expected: {', '.join(sorted(_CONFIG_KEYS))}")
    out = {_ALIASES.get(k, k): v for k, v in table.items()}
    for key in ("rewriters", "retrievers", "rerankers"):
        val = out.get(key)
        if isinstance(val, str):
            out[key] = [v.strip() for v in val.split(",") if v.strip()]
        elif val is not None and not (isinstance(val, list) and all(isinstance(v, str) for v in val)):
            raise BrightEvalError(f"{path}: field '{key}' must be a list of names or a comma-separated string")
    for key in _ARG_TABLES:
        val = out.get(key, {})
        if not isinstance(val, dict) or not all(isinstance(v, dict) for v in val.values()):
            raise BrightEvalError(f"{path}: field '{key}' must be a table of tables ([matrix.{key}.<name>])")
    for key in ("data_dir", "results_dir", "cache_dir"):
        if key in out and "://" not in str(out[key]):  # URLs (s3://...) are not relative to the file
            out[key] = (path.parent / str(out[key])).resolve()
    if "resources" in out:
        from .executors.resources import check

        check(out["resources"], str(path))
    return out


def build_request(rewriters: Any, retrievers: Any, tasks: Any, conf: dict[str, Any] | None = None,
                  labels: dict[str, str] | None = None, **settings) -> Request:
    """A request from names (inline options allowed: 'bm25(k1=1.2)') or refs and a config's option tables,
    keyed by spec; `labels` say where each table came from, for the error when two places disagree."""
    conf, labels = conf or {}, labels or {}

    def refs(names, table: str) -> list[ComponentRef]:
        out = as_refs(names)
        for ref in out:
            extra = conf.get(table, {}).get(ref.spec, {})
            where = labels.get(table, f"[matrix.{table}.{ref.spec}]")
            ref.args = merge_args(f"'{ref.spec}'", ("its inline options", ref.args), (where, extra))
        return out

    # The first stage is always a cell of its own: a reranker's ablation is then free.
    rerankers = settings.pop("rerankers", None) or []
    return Request(refs(rewriters, "rewriter_args"), refs(retrievers, "retriever_args"), tasks,
                   rerankers=[None, *refs(rerankers, "reranker_args")], **settings)
