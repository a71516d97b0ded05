"""Experiment files: a TOML `[matrix]` table that becomes a plan `Request` (see bright_eval/plan.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import BrightEvalError
from .plan import ComponentRef, Request, as_refs
from .registry import merge_args

_ARG_TABLES = {"rewriter_args": "rewriters", "retriever_args": "retrievers", "reranker_args": "rerankers"}
_ALIASES = {"rewriter_options": "rewriter_args", "retriever_options": "retriever_args"}  # names before schema 2
_PATHS = ("data_dir", "results_dir", "cache_dir")
# What each key holds, as the one error line says it.
_EXPECTED = {
    "rewriters": "a list of names (or one comma-separated string), at least one",
    "retrievers": "a list of names (or one comma-separated string), at least one",
    "rerankers": "a list of names (or one comma-separated string)",
    "tasks": "a list of task names, a comma-separated string of them, or \"all\"",
    "top_k": "a positive integer, e.g. top_k = 1000",
    "rerank_depth": "a positive integer, e.g. rerank_depth = 100",
    "long_documents": "true or false",
    "rerank_query": "\"original\" or \"rewritten\"",
    "data_dir": "a folder path (relative to this file)",
    "results_dir": "a folder path or URL (e.g. s3://bucket/runs)",
    "cache_dir": "a folder path (relative to this file)",
    "executor": "\"local\" or \"ray\"",
    "address": "a Ray address: auto, host:port or ray://host:port",
    "resources": "a table of tables, one per kind or component",
    **{k: "a table of option tables, one per component" for k in _ARG_TABLES},
}
_CONFIG_KEYS = (*_EXPECTED, *_ALIASES)


def _model():
    """The experiment schema; pydantic is imported here so that `bright-eval --help` stays fast."""
    from typing import Annotated, Literal, Optional, Union

    from pydantic import BaseModel, ConfigDict, Field

    names = Union[Annotated[list[str], Field(min_length=1)], str]
    pos = Annotated[int, Field(ge=1)]
    text = Annotated[str, Field(min_length=1)]

    class Experiment(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True)
        rewriters: Optional[names] = None
        retrievers: Optional[names] = None
        rerankers: Optional[Union[list[str], str]] = None
        tasks: Optional[Union[list[str], str]] = None
        top_k: Optional[pos] = None
        rerank_depth: Optional[pos] = None
        long_documents: Optional[bool] = None
        rerank_query: Optional[Literal["original", "rewritten"]] = None
        data_dir: Optional[text] = None
        results_dir: Optional[text] = None
        cache_dir: Optional[text] = None
        executor: Optional[Literal["local", "ray"]] = None
        address: Optional[text] = None
        resources: Optional[dict[str, dict[str, Any]]] = None
        rewriter_args: dict[str, dict[str, Any]] = Field(default_factory=dict)
        retriever_args: dict[str, dict[str, Any]] = Field(default_factory=dict)
        reranker_args: dict[str, dict[str, Any]] = Field(default_factory=dict)

    return Experiment


def _show(value: Any) -> str:
    """A value as it reads in TOML (strings quoted, true/false), shortened."""
    import json

    out = json.dumps(value, ensure_ascii=False, default=str)
    return out if len(out) <= 80 else out[:77] + "..."


def read_config(path: Path | str) -> dict[str, Any]:
    """An experiment TOML: a `[matrix]` table (or, without one, top-level keys), checked against a
    schema before any work: every bad key or value is one error naming the file, the key, the value
    and what was expected. Keys: rewriters, retrievers, rerankers (TOML arrays, or one string split
    on top-level commas as the CLI splits it), tasks, top_k, long_documents, rerank_depth,
    rerank_query, data_dir, results_dir, cache_dir (paths relative to the file; results_dir may be an
    fsspec URL), executor (local or ray), address (a Ray cluster), a `[matrix.resources.<kind or
    component>]` table for Ray (see executors/resources.py), and `[matrix.rewriter_args.<spec>]` /
    `[matrix.retriever_args.<spec>]` / `[matrix.reranker_args.<spec>]` tables of component options,
    each naming a listed component by its spec (`bm25` for `bm25(k1=1)`)."""
    import difflib

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
    prefix = ""
    table = doc
    if "matrix" in doc:
        prefix = "matrix."
        table = doc["matrix"]
        if not isinstance(table, dict):
            raise BrightEvalError(f"{path}: key 'matrix' = {_show(table)}: expected a table (a 'matrix' section holding the keys)")
        for key in doc:  # read only without a matrix table: beside one, a key would be silently ignored
            if key != "matrix":
                raise BrightEvalError(f"{path}: key '{key}' is outside the 'matrix' table; move it under the 'matrix' "
                                      f"section (top-level keys are read only in a file without one)")
    for key in table:
        if key not in _CONFIG_KEYS:
            close = difflib.get_close_matches(key, _CONFIG_KEYS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise BrightEvalError(f"{path}: unknown key '{prefix}{key}'{hint}; known keys: {', '.join(_EXPECTED)}")
    for old, new in _ALIASES.items():
        if old in table and new in table:
            raise BrightEvalError(f"{path}: '{prefix}{old}' and '{prefix}{new}' are the same table under two names; keep one of them")
    table = {_ALIASES.get(k, k): v for k, v in table.items()}
    out = _validate(path, prefix, table)

    from .registry import split_options, split_top_level
    from .tasks import parse_tasks

    for key in ("rewriters", "retrievers", "rerankers"):
        val = out.get(key)
        try:
            items = split_top_level(val) if isinstance(val, str) else val
        except BrightEvalError as exc:
            raise BrightEvalError(f"{path}: key '{prefix}{key}' = {_show(val)}: {exc}") from None
        if items is not None:
            out[key] = [v.strip() for v in items if v.strip()]
            if not out[key] and key != "rerankers":
                raise BrightEvalError(f"{path}: key '{prefix}{key}' = {_show(val)}: expected {_EXPECTED[key]}")
    if "tasks" in out:
        try:
            out["tasks"] = parse_tasks(out["tasks"])
        except BrightEvalError as exc:
            raise BrightEvalError(f"{path}: key '{prefix}tasks' = {_show(out['tasks'])}: {exc}") from None
    for table_key, list_key in _ARG_TABLES.items():
        listed = {split_options(v)[0]: v for v in out.get(list_key) or []}
        for name in out.get(table_key, {}):
            where = f"{path}: table '{prefix}{table_key}.{name}'"
            if list_key in out:
                if name not in listed:
                    close = difflib.get_close_matches(name, list(listed), n=1)
                    hint = f"; did you mean '{close[0]}'?" if close else ""
                    raise BrightEvalError(f"{where} is not one of the {list_key} listed ({', '.join(listed) or 'none'}){hint}")
            else:  # the list comes from the command line: the table must at least name a component
                _lookup(list_key, name, where)
    for key in _PATHS:
        if key in out and "://" not in out[key]:  # URLs (s3://...) are not relative to the file
            out[key] = (path.parent / out[key]).resolve()
    if "resources" in out:
        from .executors.resources import check

        check(out["resources"], str(path))
    return out


def _validate(path: Path, prefix: str, table: dict[str, Any]) -> dict[str, Any]:
    from pydantic import ValidationError

    try:
        model = _model().model_validate(table)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first["loc"]]
        key = loc[0]
        if key in _ARG_TABLES and len(loc) >= 2:  # one component's table: name it
            return _bad(path, f"{prefix}{key}.{loc[1]}", table[key][loc[1]], "a table of options")
        return _bad(path, prefix + key, table[key], _EXPECTED[key])
    return model.model_dump(exclude_unset=True)


def _bad(path: Path, key: str, value: Any, expected: str):
    raise BrightEvalError(f"{path}: key '{key}' = {_show(value)}: expected {expected}")


def _lookup(kind: str, name: str, where: str) -> None:
    if kind == "rewriters":
        from bright_eval.rewriters import REWRITERS as registry
    elif kind == "retrievers":
        from bright_eval.retrievers import RETRIEVERS as registry
    else:
        from bright_eval.rerankers import RERANKERS as registry
    try:
        registry.lookup(name)
    except BrightEvalError as exc:
        raise BrightEvalError(f"{where}: {exc}") from None


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
