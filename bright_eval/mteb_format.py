"""BRIGHT results in MTEB's results-repository layout, written from results records and read back as
reference rows. Nothing here recomputes retrieval: every number comes from a `ResultRecord`.

The layout and fields follow MTEB's own code (embeddings-benchmark/mteb, release 2.26.24):
- `results/<model name, "/" -> "__">/<revision>/<TaskName>.json` beside a `model_meta.json`:
  `mteb/cache/result_cache.py:383-411` (save_to_cache) and `:876-886` (the `*/*/*.json` glob the loader uses);
  the model name and revision are read from `model_meta.json` (`:989-1008`).
- one task file = `TaskResult` (`mteb/results/task_result.py:169-176`): dataset_revision, task_name,
  mteb_version, scores {split: [one dict per hf_subset]}, evaluation_time, kg_co2_emissions, date;
  each score dict needs `main_score`, `hf_subset` (str) and `languages` (list) (`:260-267`).
- BRIGHT is the task `BrightRetrieval` (split `standard`, one hf_subset per BRIGHT task, main_score
  `ndcg_at_10`) and `BrightLongRetrieval` (split `long`): `mteb/tasks/retrieval/eng/bright_retrieval.py:17-35,120-170`.
  The per-domain `Bright<Domain>Retrieval` tasks (`bright_v1_1_retrieval.py`, dataset mteb/BRIGHT) are
  read, not written: bright-eval evaluates xlangai/BRIGHT.
- retrieval score names: `ndcg_at_k`, `map_at_k`, `recall_at_k`, `precision_at_k`, `mrr_at_k`
  (`mteb/_evaluators/retrieval_metrics.py:461-468`).
- the published BRIGHT files (embeddings-benchmark/results `scripts/convert_bright.py`, by a BRIGHT
  author) are `results/<model>/no_revision_available/BrightRetrieval.json` with splits `standard` and
  `long`, dataset_revision `a75a0eb`, main_score = NDCG@10.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

from .errors import BrightEvalError
from .io import atomic_write_text, fingerprint_of
from .record import ResultRecord
from .results import by_system, slug
from .scoreboard import Row, _reported_label
from .scoring import HEADLINE
from .tasks import TASKS

log = logging.getLogger(__name__)

STANDARD_TASK, LONG_TASK = "BrightRetrieval", "BrightLongRetrieval"
PREFIX = "bright-eval/"  # model names of exports; `read_rows` splits the rest back into rewriter + retriever
LANGUAGES = ["eng-Latn"]
BRIGHT_2024_REVISION = "a75a0eb"  # the dataset_revision of the BRIGHT authors' 2024 files


def _domain_task_name(task: str, long: bool = False) -> str:
    camel = "".join(p.capitalize() for p in task.split("_")).replace("Theoremqa", "TheoremQA")
    return f"Bright{camel}{'Long' if long else ''}Retrieval"


# Bright<Domain>[Long]Retrieval -> (task, split), for reading MTEB's per-domain files.
DOMAIN_TASKS = {_domain_task_name(t, long): (t, "long" if long else "standard") for t in TASKS for long in (False, True)}


def mteb_metric(name: str, top_k: int) -> str | None:
    """This project's metric name as MTEB writes it; pytrec_eval's full `map` on a top_k-deep run is map@top_k."""
    if name == "map":
        return f"map_at_{top_k}"
    base, _, k = name.partition("@")
    field = {"ndcg": "ndcg", "recall": "recall", "mrr": "mrr", "p": "precision"}.get(base)
    return f"{field}_at_{k}" if field and k.isdigit() else None


def _model_name(rec: ResultRecord) -> str:
    parts = [slug(rec.rewriter), slug(rec.retriever)]
    if rec.reranker:
        parts.append("rerank-" + slug(rec.reranker))
    if rec.tag:
        parts.append(slug(rec.tag))
    return PREFIX + "+".join(parts)


def _model_type(rec: ResultRecord) -> list[str]:
    spec = rec.identity.get("retriever") if isinstance(rec.identity.get("retriever"), dict) else {}
    kind = "sparse" if "k1" in spec else "hybrid" if spec.get("kind") == "fusion" else "dense"
    return [kind, "cross-encoder"] if rec.reranker else [kind]


def _system_revision(per_task: dict[str, ResultRecord]) -> str:
    # What made the numbers, minus the task and its data: one revision per configuration of the system.
    ids = sorted(fingerprint_of({k: v for k, v in r.identity.items() if k not in ("task", "data")}) for r in per_task.values())
    return fingerprint_of(ids)[:12]


def _created(rec: ResultRecord) -> float | None:
    try:
        return datetime.fromisoformat(str(rec.environment.get("created"))).timestamp()
    except ValueError:
        return None


def task_result(per_task: dict[str, ResultRecord]) -> dict:
    """One MTEB task file (BrightRetrieval or BrightLongRetrieval) from one system's records."""
    recs = [per_task[t] for t in TASKS if t in per_task]
    long = bool(recs[0].settings.get("long_documents"))
    revisions = sorted({str(r.data.get("revision")) for r in recs if r.data.get("revision")})
    if len(revisions) > 1:
        log.warning("%s: results made on different BRIGHT revisions (%s); dataset_revision lists them all",
                    _model_name(recs[0]), ", ".join(revisions))
    scores = []
    for rec in recs:
        top_k = int(rec.settings.get("top_k", 1000))
        if not isinstance(rec.metrics.get(HEADLINE), (int, float)):
            raise BrightEvalError(f"{rec.path}: field 'metrics.{HEADLINE}' must be a number (MTEB's main_score), got {rec.metrics.get(HEADLINE)!r}")
        entry = {"hf_subset": rec.task, "languages": LANGUAGES, "main_score": rec.metrics[HEADLINE]}
        for name, value in rec.metrics.items():
            field = mteb_metric(name, top_k)
            if field and isinstance(value, (int, float)):
                entry[field] = value
        scores.append(entry)
    dates = [d for d in map(_created, recs) if d is not None]
    return {
        "dataset_revision": ",".join(revisions) or "unknown",
        "task_name": LONG_TASK if long else STANDARD_TASK,
        "mteb_version": None,  # not evaluated by MTEB; the loader accepts null (task_result.py:171)
        "scores": {"long" if long else "standard": scores},
        "evaluation_time": sum(float(v) for r in recs for v in r.timings.values() if isinstance(v, (int, float))),
        "kg_co2_emissions": None,
        "date": max(dates) if dates else None,
    }


def model_meta(name: str, revision: str, rec: ResultRecord) -> dict:
    """ModelMeta's fields (mteb/models/model_meta.py:200-280, class ModelMeta): unknowns are null, not guessed."""
    return {"name": name, "revision": revision, "release_date": None, "languages": LANGUAGES, "n_parameters": None,
            "memory_usage_mb": None, "max_tokens": None, "embed_dim": None, "license": None, "open_weights": None,
            "public_training_code": None, "public_training_data": None, "framework": [], "reference": None,
            "similarity_fn_name": None, "use_instructions": None, "training_datasets": None, "adapted_from": None,
            "superseded_by": None, "modalities": ["text"], "model_type": _model_type(rec), "loader": None}


def model_path(name: str) -> str:
    return name.replace("/", "__").replace(" ", "_")  # MTEB's own rule (result_cache.py:301, 1104)


def write(records: list[ResultRecord], out: Path, model_name: str | None = None, model_revision: str | None = None) -> list[Path]:
    """`out/results/<model>/<revision>/{BrightRetrieval,BrightLongRetrieval}.json` + model_meta.json per system,
    so `out` reads as a results repository (`mteb.ResultCache(out)`)."""
    systems = by_system(records, split_settings=True)
    if model_name and len(systems) > 1:
        shown = "; ".join(" + ".join(k) for k in systems)
        raise BrightEvalError(f"--model-name names one model, but the selected results hold {len(systems)} systems ({shown}); "
                              f"pick one with --rewriter/--retriever/--settings")
    written = []
    for per_task in systems.values():
        first = next(iter(per_task.values()))
        name = model_name or _model_name(first)
        revision = model_revision or _system_revision(per_task)
        folder = out / "results" / model_path(name) / revision
        result = task_result(per_task)
        path = folder / f"{result['task_name']}.json"
        atomic_write_text(path, json.dumps(result, indent=2) + "\n")
        atomic_write_text(folder / "model_meta.json", json.dumps(model_meta(name, revision, first), indent=4) + "\n")
        written.append(path)
    return written


# -- reading -----------------------------------------------------------------------------------------
def _labels(model: str) -> tuple[str, str]:
    """(rewriter, retriever): MTEB evaluates models on BRIGHT's original queries; a bright-eval export names both."""
    if model.startswith(PREFIX):
        rewriter, retriever, *extra = model[len(PREFIX):].split("+") + [""] * (model.count("+") == 0)
        for part in extra:
            retriever += f" >> {part[len('rerank-'):]}" if part.startswith("rerank-") else f" [{part}]"
        return rewriter, retriever
    return "original", model


def _model_of(path: Path) -> tuple[str, str]:
    meta = path.parent / "model_meta.json"
    if meta.is_file():
        try:
            obj = json.loads(meta.read_text(encoding="utf-8"))
            return str(obj["name"]), str(obj.get("revision") or path.parent.name)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BrightEvalError(f"{meta}: expected MTEB's model_meta.json with a 'name' field ({exc})") from None
    return path.parent.parent.name.replace("__", "/"), path.parent.name


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise BrightEvalError(f"{where} must be a number, got {value!r}")
    return float(value)


def read_rows(folder: Path | str, metric: str = HEADLINE, setting: str = "standard") -> list[Row]:
    """Reference rows from MTEB result files under `folder` (a results repository, its `results/`, or one
    model's folder): BrightRetrieval / BrightLongRetrieval / Bright<Domain>[Long]Retrieval. Scores x100.
    Other tasks' files are skipped: a results repository holds thousands."""
    root = Path(folder)
    if not root.is_dir():
        raise BrightEvalError(f"--mteb-results {root}: not a folder; expected MTEB's results folder (results/<model>/<revision>/*.json)")
    split = "long" if setting == "long" else "standard"
    field = "main_score" if metric == HEADLINE else mteb_metric(metric, 1000)
    rows: dict[tuple[str, str], Row] = {}
    for path in sorted(root.rglob("Bright*Retrieval.json")):
        name = path.stem
        if name not in (STANDARD_TASK, LONG_TASK) and name not in DOMAIN_TASKS:
            continue
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BrightEvalError(f"{path}: not readable as JSON ({exc})") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("scores"), dict):
            raise BrightEvalError(f"{path}: expected an MTEB task result with a 'scores' object ({{split: [...]}})")
        model, revision = _model_of(path)
        version = "2024" if str(obj.get("dataset_revision", "")).startswith(BRIGHT_2024_REVISION) else "unstated"
        source = _reported_label(f"MTEB results: {model} ({revision})", version)
        rewriter, retriever = _labels(model)
        row = rows.setdefault((source, version), Row(rewriter, retriever, "reported", {}, source=source, via=str(path)))
        entries = obj["scores"].get(split) or []
        if not isinstance(entries, list):
            raise BrightEvalError(f"{path}: field 'scores.{split}' must be a list of score objects")
        for i, entry in enumerate(entries):
            where = f"{path}: scores.{split}[{i}]"
            if not isinstance(entry, dict):
                raise BrightEvalError(f"{where} must be an object")
            task = DOMAIN_TASKS[name][0] if name in DOMAIN_TASKS else entry.get("hf_subset")
            if task not in TASKS:
                raise BrightEvalError(f"{where}.hf_subset must be a BRIGHT task ({', '.join(TASKS)}), got {task!r}")
            if field is None or field not in entry:
                continue  # a metric MTEB did not record here: no cell, not a zero
            if task in row.scores:
                raise BrightEvalError(f"{where}: a second value for {model} on {task}")
            row.scores[task] = 100 * _number(entry[field], f"{where}.{field}")
    found = [r for r in rows.values() if r.scores]
    if not found:
        log.warning("%s: no BRIGHT result files with %s on the %s split (BrightRetrieval.json, BrightLongRetrieval.json, "
                    "Bright<Domain>Retrieval.json)", root, metric, split)
    return found
