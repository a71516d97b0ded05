"""A results record as a run in QueryGym's reproducibility schema (schema_version 1), so a bright-eval
run can be submitted to QueryGym's leaderboard. Numbers come from the record; nothing is recomputed.

Source: ls3-lab/QueryGym @a1d2dd5e76f8a655991d4f0c0065d76a37d4e703 (Apache-2.0), vendored as
`reference/querygym_run_summary.schema.json` (`reproducibility/schema.json`, unchanged since d96b6e81).
Read from their code:
- params_hash = sha256 of the sorted-key, compact JSON of {method_id, model, method_params, llm_config},
  first 8 hex; run_id = the same over the payload minus run_id, submitted_at and environment, first 16
  (`reproducibility/lib/emit.py:17-19, 57-91`);
- the layout `runs/<dataset_id>/<method_id>/<model>/<retriever_id>/<params_hash>.json` with the
  artifacts `<params_hash>.run.txt` and `<params_hash>.queries.tsv` beside it
  (`reproducibility/scripts/submit_run.py:62-65`, `emit.py:116-135`);
- what their `validate()` checks beyond the schema (`reproducibility/lib/validate.py:115-245`):
  dataset ids of `dataset_registry.yaml` (`bright-<task>` for all 12 BRIGHT tasks, lines 154-275),
  metrics limited to the dataset's `eval_metrics` (ndcg_cut.10, recall.100, recall.1000 for BRIGHT),
  values in [0, 1], retriever ids of `reproducibility/retriever_registry.yaml` (bm25 = Pyserini's
  Lucene BM25, splade-pp, bge-base-en-v1.5) with their paradigm, and both hashes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

from .errors import BrightEvalError
from .io import atomic_write_bytes, atomic_write_text
from .record import ResultRecord
from .results import slug
from .scoreboard import bright_sizes

log = logging.getLogger(__name__)

SCHEMA_FILE = "querygym_run_summary.schema.json"
SOURCE = "ls3-lab/QueryGym@a1d2dd5e"
# Our metric -> trec_eval's name with dots as underscores, limited to BRIGHT's eval_metrics in their registry.
METRICS = {"ndcg@10": "ndcg_cut_10", "recall@100": "recall_100", "recall@1000": "recall_1000"}
REGISTERED_RETRIEVERS = {"bm25": "lexical", "splade-pp": "learned_sparse", "bge-base-en-v1.5": "dense"}
_BACKEND_KEYS = ("backend", "model", "revision", "base_url")


def schema() -> dict:
    return json.loads((resources.files("bright_eval") / "reference" / SCHEMA_FILE).read_text(encoding="utf-8"))


def _hash(obj, n: int) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def params_hash(method_id: str, model: str, method_params: dict, llm_config: dict) -> str:
    return _hash({"method_id": method_id, "model": model, "method_params": method_params, "llm_config": llm_config}, 8)


def run_id(payload: dict) -> str:
    return _hash({k: v for k, v in payload.items() if k not in ("run_id", "submitted_at", "environment")}, 16)


def dataset_id(task: str) -> str:
    return "bright-" + task.replace("_", "-")


def _method(rec: ResultRecord) -> tuple[str, str, dict, dict]:
    """(method_id, model, method_params, llm_config) from the rewriter's spec on record."""
    spec = rec.identity.get("rewriter")
    spec = spec if isinstance(spec, dict) else {}
    kind, model, params, llm = spec.get("kind"), None, {}, {}
    if kind == "llm":
        model = (spec.get("model") or {}).get("model") if isinstance(spec.get("model"), dict) else spec.get("model")
        method = str(spec.get("prompt") or rec.rewriter)
        params = {k: spec[k] for k in ("prompt", "messages", "think", "compose") if k in spec}
        llm = {k: v for k, v in (spec.get("sampling") or {}).items() if v is not None}
    elif kind == "querygym":
        method = str(spec.get("method") or rec.rewriter)
        raw = spec.get("llm") if isinstance(spec.get("llm"), dict) else {}
        model = raw.get("model")
        params = dict(spec.get("params") or {})
        if "context" in spec:  # the first stage whose documents the method read: part of what it is
            params["context"] = spec["context"]
        llm = {k: v for k, v in raw.items() if k not in _BACKEND_KEYS and v is not None}
    else:
        method = str(spec.get("method") or rec.rewriter)
        model = spec.get("model") if isinstance(spec.get("model"), str) else None
    if not model:
        raise BrightEvalError(f"{rec.path}: rewriter '{rec.rewriter}' calls no LLM; QueryGym's schema describes LLM reformulation "
                              f"runs (pipeline.model and config.llm_config are required), so it cannot be exported there")
    temperature, max_tokens = llm.get("temperature"), llm.get("max_tokens")
    if not isinstance(temperature, (int, float)) or isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise BrightEvalError(f"{rec.path}: rewriter '{rec.rewriter}' has no temperature and max_tokens on record (identity.rewriter), "
                              f"which QueryGym's schema requires (config.llm_config); got temperature={temperature!r}, max_tokens={max_tokens!r}")
    return slug(method), str(model), params, llm


def _retrieval(rec: ResultRecord) -> dict:
    if rec.reranker:
        raise BrightEvalError(f"{rec.path}: '{rec.retriever} >> {rec.reranker}' is reranked; QueryGym's schema has one retriever per run "
                              f"(config.retrieval), so export its first stage's results instead")
    spec = rec.identity.get("retriever")
    spec = spec if isinstance(spec, dict) else {}
    if "k1" in spec and "b" in spec:
        # Their `bm25` is Pyserini's LuceneSearcher, i.e. our bm25-lucene; BRIGHT's own BM25 (gensim's
        # LuceneBM25Model, BM25-weighted queries) scores differently and must not pass for it.
        rid = "bm25" if spec.get("flavour") == "lucene" else slug(rec.retriever)
        if rid == "bm25" and spec.get("flavour") != "lucene":
            rid = "bm25-bright"
        out = {"retriever_id": rid, "paradigm": "lexical", "params": {"k1": float(spec["k1"]), "b": float(spec["b"])}}
    elif spec.get("kind") in ("dense", "api-embedding") and spec.get("model"):
        encoder = str(spec["model"])
        rid = "bge-base-en-v1.5" if encoder.rsplit("/", 1)[-1] == "bge-base-en-v1.5" else slug(rec.retriever)
        out = {"retriever_id": rid, "paradigm": "dense", "params": {"encoder": encoder}}
    else:
        raise BrightEvalError(f"{rec.path}: retriever '{rec.retriever}' ({spec.get('kind', 'unknown kind')}) fits none of QueryGym's "
                              f"paradigms (config.retrieval.paradigm: lexical with k1/b, learned_sparse, dense with an encoder)")
    out["implementation"] = f"bright-eval:{rec.retriever}"
    return out


def _timing(rec: ResultRecord) -> dict[str, float]:
    t = {k: float(v) for k, v in rec.timings.items() if isinstance(v, (int, float)) and v >= 0}
    spent = {"reformulation_seconds": t.pop("rewrite_s", 0.0), "evaluation_seconds": t.pop("score_s", 0.0)}
    t.pop("write_s", None)
    spent["retrieval_seconds"] = sum(t.values())  # loading, indexing, analysing, searching
    return spent


def _submitted_at(rec: ResultRecord) -> str:
    # The record's own time, so exporting twice writes the same file.
    try:
        when = datetime.fromisoformat(str(rec.environment.get("created")))
    except ValueError:
        when = datetime.now(timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def summary(rec: ResultRecord, with_run: bool = True) -> dict:
    """The schema-v1 run summary of one record (one BRIGHT task)."""
    if rec.settings.get("long_documents"):
        raise BrightEvalError(f"{rec.path}: made with long documents; QueryGym's BRIGHT datasets are the standard setting only")
    method_id, model, method_params, llm = _method(rec)
    retrieval = _retrieval(rec)
    metrics = {}
    for ours, theirs in METRICS.items():
        value = rec.metrics.get(ours)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            metrics[theirs] = float(value)
    if not metrics:
        raise BrightEvalError(f"{rec.path}: field 'metrics' has none of {', '.join(METRICS)} (QueryGym's BRIGHT metrics)")
    timing = _timing(rec)
    h = params_hash(method_id, model, method_params, llm)
    env = rec.environment
    payload = {
        "schema_version": 1,
        "run_id": "",
        "params_hash": h,
        "submitted_at": _submitted_at(rec),
        "querygym_version": "unknown",  # what their emitter writes when querygym is not installed (emit.py:138-144)
        "environment": {"python_version": str((env.get("versions") or {}).get("python", "unknown")),
                        "platform": str(env.get("platform", "unknown")), "git_commit": env.get("git_commit")},
        "pipeline": {"dataset_id": dataset_id(rec.task), "method_id": method_id, "model": model,
                     "steps_completed": ["reformulate", "retrieve", "evaluate"], "total_time_seconds": sum(timing.values())},
        "config": {"method_params": method_params, "llm_config": llm,
                   "dataset_config": {"topics": dataset_id(rec.task), "index": dataset_id(rec.task),
                                      "num_queries": int(rec.data.get("n_queries") or len(rec.per_query))},
                   "retrieval": retrieval},
        "metrics": metrics,
        "timing": timing,
        "artifacts": {"run_file": f"{h}.run.txt", "reformulated_queries": f"{h}.queries.tsv"} if with_run
        else {"reformulated_queries": f"{h}.queries.tsv"},
    }
    payload["run_id"] = run_id(payload)
    return payload


def validate(payload: dict, where: str) -> None:
    """Against QueryGym's own schema: a payload this module built that fails it is a bug here, said plainly."""
    try:
        import jsonschema
    except ImportError:
        log.warning("jsonschema is not installed: %s was not checked against QueryGym's schema", where)
        return
    try:
        jsonschema.validate(payload, schema())
    except jsonschema.ValidationError as exc:
        at = "/".join(map(str, exc.absolute_path)) or "<root>"
        raise BrightEvalError(f"{where}: does not satisfy QueryGym's schema at '{at}': {exc.message}") from None


def _run_text(rec: ResultRecord) -> bytes | None:
    if not rec.run_file or not rec.path:
        return None
    path = Path(rec.path).parent / rec.run_file
    try:
        data = path.read_bytes()
        return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        log.warning("%s: its run file %s is not readable (%s); exported without run_file", rec.path, path, exc)
        return None


def _queries_tsv(rec: ResultRecord) -> str:
    # The text that was searched, one line per query, newlines flattened as QueryGym's own files are.
    lines = []
    for qid, q in rec.queries.items():
        text = q.get("rewritten", q.get("original", "")) if isinstance(q, dict) else str(q)
        lines.append(f"{qid}\t{' '.join(str(text).split())}")
    return "\n".join(lines) + "\n"


def write(records: list[ResultRecord], out: Path) -> list[Path]:
    """One run per record under `out`, in QueryGym's `runs/` layout. A record QueryGym's schema cannot hold
    (no LLM, reranked, long documents) is skipped with a warning saying why; none exportable is an error."""
    planned: dict[Path, tuple[ResultRecord, dict, bytes | None]] = {}
    skipped: list[BrightEvalError] = []
    for rec in records:
        try:
            payload = summary(rec)
        except BrightEvalError as exc:
            skipped.append(exc)
            continue
        run = _run_text(rec)
        if run is None:
            payload = summary(rec, with_run=False)
        validate(payload, rec.path)
        _warn_unregistered(rec, payload)
        p = payload["pipeline"]
        path = out / p["dataset_id"] / p["method_id"] / p["model"] / payload["config"]["retrieval"]["retriever_id"] / f"{payload['params_hash']}.json"
        if path in planned:
            raise BrightEvalError(f"{rec.path} and {planned[path][0].path} would both be {path} (QueryGym names a run by its method, "
                                  f"model and LLM settings); pick one with --settings, --retriever or --task")
        planned[path] = (rec, payload, run)
    if not planned:
        raise skipped[0]
    for exc in skipped:
        log.warning("skipped: %s", exc)
    for path, (rec, payload, run) in planned.items():
        h = payload["params_hash"]
        atomic_write_text(path, json.dumps(payload, indent=2) + "\n")
        atomic_write_text(path.with_name(f"{h}.queries.tsv"), _queries_tsv(rec))
        if run is not None:
            atomic_write_bytes(path.with_name(f"{h}.run.txt"), run)
    return list(planned)


def _warn_unregistered(rec: ResultRecord, payload: dict) -> None:
    rid = payload["config"]["retrieval"]["retriever_id"]
    if rid not in REGISTERED_RETRIEVERS:
        log.warning("%s: retriever_id '%s' is not in QueryGym's retriever_registry.yaml (%s, %s); their validate() rejects it "
                    "until it is registered", rec.path, rid, ", ".join(REGISTERED_RETRIEVERS), SOURCE)
    n_docs = rec.data.get("n_docs")
    sizes = bright_sizes(rec.task, False)
    if sizes and n_docs is not None and n_docs not in sizes:
        log.warning("%s: measured on %s documents, not BRIGHT's %s for %s: not comparable with QueryGym's bright-* runs",
                    rec.path, n_docs, " or ".join(map(str, sizes)), rec.task)
