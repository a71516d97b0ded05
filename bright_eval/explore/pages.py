"""The pages' data, from results files (records and their TREC runs) and, where it can be read, the
data source the records name: BRIGHT's examples (gold and excluded ids, the `reasoning` note, the
gold answer) and the texts of the documents shown. No retrieval is rerun.

Three kinds of data, so that a browser loads only what a page shows: the overview (leaderboard and
per-task deltas against the baseline, in index.html), one object per task (per-query metrics, the
top `depth` of every system, gold ranks) and one per query (rewrites with their word diff, scored
rankings, first-stage and fused-children ranks, BM25 term contributions, document texts)."""

from __future__ import annotations

import difflib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bright_eval import stats
from bright_eval.data import DataSource, Example, LocalSource
from bright_eval.errors import BrightEvalError, DataNotFound
from bright_eval.scoring import HEADLINE, METRICS
from bright_eval.tasks import TASKS
from bright_eval.trec import ranked, read_run

from .bm25_terms import TermExplainer, is_bm25
from .systems import System

log = logging.getLogger(__name__)
HIST_EDGES = (0.1, 0.25, 0.5)  # |Δ| bin edges of the overview's small plots: 4 loss bins, ties, 4 win bins


@dataclass
class Options:
    baseline: str = "original"
    metric: str = HEADLINE
    depth: int = 10                   # documents shown per system (and compared by the rank contrasts)
    doc_chars: int = 600              # characters of each shown document's text
    terms: bool = True                # BM25 term contributions (needs the documents)
    report: str | None = None         # link to a significance report (relative to the site or a URL)


@dataclass
class TaskInputs:
    """What one task's pages are made from, read once."""

    task: str
    qids: list[str]
    originals: dict[str, str]
    examples: dict[str, Example] | None
    runs: dict[str, dict[str, list[tuple[str, float]]]]  # system key -> qid -> ranking (trec_eval order)
    notes: list[str] = field(default_factory=list)
    corpus: Any = None


# -- the data source ----------------------------------------------------------------------------------
def source_for(records_source: str | None, data_dir: str | Path | None) -> tuple[DataSource | None, str]:
    """`--data-dir`, else the local folder the records name when it exists; (None, why) otherwise."""
    if data_dir:
        return LocalSource(data_dir), f"--data-dir {data_dir}"
    if records_source and records_source.startswith("local:"):
        path = Path(records_source.removeprefix("local:"))
        if path.is_dir():
            return LocalSource(path), f"{path} (named by the results files)"
        return None, f"the results' data source {path} is not on this machine; pass --data-dir"
    return None, f"the results' data source is {records_source or 'not recorded'}; pass --data-dir for a local copy"


def _examples(source: DataSource | None, task: str, notes: list[str]) -> dict[str, Example] | None:
    if source is None:
        return None
    try:
        return {ex.id: ex for ex in source.examples(task)}
    except DataNotFound as exc:
        notes.append(f"examples unavailable ({exc}): no gold marks, excluded ids or reasoning notes")
        return None


def _corpus(source: DataSource | None, task: str, long: bool, notes: list[str]):
    if source is None:
        return None
    try:
        return source.documents(task, long)
    except DataNotFound as exc:
        notes.append(f"documents unavailable ({str(exc).split(';')[0]}): no document texts or BM25 term contributions")
        return None


def _run(rec, notes: list[str], label: str) -> dict[str, list[tuple[str, float]]]:
    if not rec.run_file:
        notes.append(f"{label}: the results file names no run file; no rankings")
        return {}
    path = Path(rec.path).parent / rec.run_file
    try:
        return {qid: ranked(docs) for qid, docs in read_run(path).items()}
    except BrightEvalError as exc:
        notes.append(f"{label}: run not read ({exc}); no rankings")
        return {}


def task_inputs(task: str, systems: list[System], source: DataSource | None, with_docs: bool) -> TaskInputs:
    notes: list[str] = []
    qids: dict[str, None] = {}
    originals: dict[str, str] = {}
    for s in systems:
        rec = s.records.get(task)
        if rec is None:
            continue
        for qid in rec.per_query:
            qids.setdefault(qid, None)
        for qid, q in rec.queries.items():
            originals.setdefault(qid, q.get("original", ""))
    examples = _examples(source, task, notes)
    if examples is not None:
        missing = [q for q in qids if q not in examples]
        if missing:
            notes.append(f"{len(missing)} queries of the results are not in the data source's examples (e.g. {missing[0]}): "
                         f"is --data-dir the data the results were made from?")
        for qid, ex in examples.items():
            if qid in qids:
                originals.setdefault(qid, ex.query)
    runs = {s.key: _run(s.records[task], notes, s.label) for s in systems if task in s.records}
    long = any(s.records[task].settings.get("long_documents") for s in systems if task in s.records)
    corpus = _corpus(source, task, long, notes) if with_docs else None
    return TaskInputs(task, list(qids), originals, examples, runs, notes, corpus)


# -- overview -------------------------------------------------------------------------------------------
def overview(systems: list[System], opts: Options, notes: dict[str, list[str]]) -> dict[str, Any]:
    tasks = [t for t in TASKS if any(t in s.records for s in systems)]
    board = []
    for s in systems:
        cells = {t: s.records[t].metrics.get(opts.metric) for t in tasks if t in s.records}
        vals = [v for v in cells.values() if isinstance(v, (int, float))]
        board.append({"key": s.key, "rewriter": s.rewriter, "retriever": s.retriever, "label": s.label, "cells": cells,
                      "average": sum(vals) / len(vals) if len(vals) == len(tasks) else None})
    deltas: dict[str, list[dict]] = {t: [] for t in tasks}
    by_key = {s.key: s for s in systems}
    for s in systems:
        base = by_key.get(s.baseline) if s.baseline else None
        if base is None:
            continue
        for t in tasks:
            a, b = s.records.get(t), base.records.get(t)
            if a is None or b is None:
                continue
            qids = [q for q in b.per_query if q in a.per_query]
            d = [a.per_query[q][opts.metric] - b.per_query[q][opts.metric] for q in qids]
            if not d:
                continue
            w, ti, lo = stats.win_tie_loss(d)
            hist = [0] * (2 * len(HIST_EDGES) + 3)
            for x in d:
                hist[_bin(x)] += 1
            deltas[t].append({"key": s.key, "base": base.key, "label": s.label, "wins": w, "ties": ti, "losses": lo,
                              "mean": sum(d) / len(d), "hist": hist})
    return {"tasks": tasks, "board": board, "deltas": deltas, "metric": opts.metric, "baseline": opts.baseline,
            "systems": [system_info(s) for s in systems], "metrics": list(METRICS), "notes": notes,
            "report": opts.report, "depth": opts.depth, "tie_eps": stats.TIE_EPS}


def _bin(x: float) -> int:
    """Index of Δ in the histogram: ties (as stats.win_tie_loss counts them) in the middle."""
    mid = len(HIST_EDGES) + 1
    if abs(x) <= stats.TIE_EPS:
        return mid
    step = 1 + sum(1 for e in HIST_EDGES if abs(x) > e)
    return mid + step if x > 0 else mid - step


def system_info(s: System) -> dict[str, Any]:
    first = s.first()
    spec = first.identity.get("retriever")
    return {"key": s.key, "rewriter": s.rewriter, "retriever": s.retriever, "label": s.label, "baseline": s.baseline,
            "first_stage": s.first_stage, "children": s.children, "reranker": first.reranker,
            "bm25": bool(is_bm25(spec)), "tasks": s.tasks}


# -- one task -------------------------------------------------------------------------------------------
def _kept(ranking: list[tuple[str, float]], excluded: set[str]) -> list[tuple[str, float]]:
    return [p for p in ranking if p[0] not in excluded]


def task_data(inp: TaskInputs, systems: list[System], opts: Options) -> dict[str, Any]:
    docs: dict[str, int] = {}
    intern = lambda d: docs.setdefault(d, len(docs))  # noqa: E731 - doc ids stored once per task
    ex = inp.examples or {}
    gold = {q: ex[q].gold_ids if q in ex else [] for q in inp.qids}
    excluded = {q: set(ex[q].excluded_ids) if q in ex else set() for q in inp.qids}
    out_sys: dict[str, Any] = {}
    for s in systems:
        rec = s.records.get(inp.task)
        if rec is None:
            continue
        run = inp.runs.get(s.key, {})
        metrics, top, granks, depth = [], [], [], []
        for q in inp.qids:
            pq = rec.per_query.get(q)
            metrics.append([pq.get(m) for m in METRICS] if pq else None)
            kept = _kept(run.get(q, []), excluded[q])
            top.append([intern(d) for d, _ in kept[:opts.depth]] if q in run else None)
            pos = {d: i for i, (d, _) in enumerate(kept, 1)}
            granks.append([pos.get(g, 0) for g in gold[q]])
            depth.append(len(kept))
        out_sys[s.key] = {"metrics": metrics, "top": top, "gold_ranks": granks, "run_depth": depth}
    return {
        "task": inp.task, "qids": inp.qids, "text": [inp.originals.get(q, "") for q in inp.qids],
        "gold": [[intern(g) for g in gold[q]] for q in inp.qids],
        "excluded": [len(excluded[q]) for q in inp.qids],
        "has_examples": inp.examples is not None, "docs": list(docs), "systems": out_sys, "notes": inp.notes,
    }


# -- one query ------------------------------------------------------------------------------------------
def word_diff(original: str, rewritten: str) -> list[list[str]]:
    """[op, text] runs, op '=' kept, '-' dropped, '+' added, over whitespace-separated words (with the
    whitespace that follows each): '=' and '-' runs rebuild the original, '=' and '+' the rewrite."""
    a, b = re.findall(r"\S+\s*", original), re.findall(r"\S+\s*", rewritten)
    lead_a, lead_b = original[:len(original) - len(original.lstrip())], rewritten[:len(rewritten) - len(rewritten.lstrip())]
    key = lambda w: w.strip().lower()  # noqa: E731 - case and spacing are not what a rewrite changes
    sm = difflib.SequenceMatcher(None, [key(w) for w in a], [key(w) for w in b], autojunk=False)
    out: list[list[str]] = []

    def add(op: str, text: str) -> None:
        if not text:
            return
        if out and out[-1][0] == op:
            out[-1][1] += text
        else:
            out.append([op, text])

    add("-", lead_a) if lead_a != lead_b else add("=", lead_a)
    if lead_a != lead_b:
        add("+", lead_b)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            # equal by key: the rewrite's own spelling and spacing are shown, the original's kept in '-' when they differ
            for wa, wb in zip(a[i1:i2], b[j1:j2]):
                if wa == wb:
                    add("=", wa)
                else:
                    add("-", wa)
                    add("+", wb)
        else:
            add("-", "".join(a[i1:i2]))
            add("+", "".join(b[j1:j2]))
    return out


def query_data(inp: TaskInputs, qid: str, systems: list[System], opts: Options, explainers: dict[str, TermExplainer | None]
               ) -> dict[str, Any]:
    ex = (inp.examples or {}).get(qid)
    excluded = set(ex.excluded_ids) if ex else set()
    original = inp.originals.get(qid, "")
    rewrites, rankings, via, terms, term_of = {}, {}, {}, {}, {}
    shown: dict[str, None] = {}
    positions: dict[str, dict[str, int]] = {}
    matched: dict[str, set[str]] = {}  # doc -> every query term that matched it, for highlighting
    for s in systems:
        if s.key in inp.runs:
            positions[s.key] = {d: i for i, (d, _) in enumerate(_kept(inp.runs[s.key].get(qid, []), excluded), 1)}
    for s in systems:
        rec = s.records.get(inp.task)
        if rec is None:
            continue
        text = rec.queries.get(qid, {}).get("rewritten")
        if text is not None and s.rewriter not in rewrites:  # systems that share a rewriter share its text
            rewrites[s.rewriter] = word_diff(original, text)
        rows, n = [], 0
        for d, score in inp.runs.get(s.key, {}).get(qid, []):
            if d in excluded:
                rows.append([d, score, 1])  # shown in place, struck out: BRIGHT's protocol removes it before ranking
                shown.setdefault(d, None)
                continue
            n += 1
            if n > opts.depth:
                break
            rows.append([d, score, 0])
            shown.setdefault(d, None)
        rankings[s.key] = rows
        linked = ([s.first_stage] if s.first_stage else []) + s.children
        if linked:
            via[s.key] = {k: {d: positions.get(k, {}).get(d, 0) for d, _, x in rows if not x} for k in linked}
        explainer = explainers.get(s.key)
        if explainer is not None and text is not None:
            # keyed by what determines the numbers: systems with one rewriter and one BM25 (reranked or not) share them
            tkey = f"{s.rewriter}|{explainer.key}"
            full = explainer.contributions(text, [d for d, _, x in rows if not x and d not in terms.get(tkey, {})])
            terms.setdefault(tkey, {}).update({d: _top_terms(pairs) for d, pairs in full.items()})
            term_of[s.key] = tkey
            for d, pairs in full.items():
                matched.setdefault(d, set()).update(t for t, _ in pairs)
    gold = ex.gold_ids if ex else []
    for g in gold:
        shown.setdefault(g, None)
    docs, doc_note = {}, None
    if inp.corpus is not None:
        texts = doc_texts(inp.corpus, list(shown))
        marker = next((e for e in explainers.values() if e is not None), None)
        for d, text in texts.items():
            cut = text[:opts.doc_chars] + ("…" if len(text) > opts.doc_chars else "")
            docs[d] = {"text": cut, "words": marker.matched_words(cut, matched.get(d, set())) if marker else {}}
    else:
        doc_note = next((n for n in inp.notes if n.startswith("documents unavailable")), "documents were not loaded")
    return {
        "task": inp.task, "qid": qid, "original": original,
        "reasoning": ex.reasoning if ex else None, "gold_answer": ex.gold_answer if ex else None,
        "gold": gold, "excluded": sorted(excluded)[:200], "excluded_n": len(excluded),
        "rewrites": rewrites, "rankings": rankings, "via": via, "terms": terms, "terms_of": term_of, "docs": docs, "doc_note": doc_note,
    }


TERMS_SHOWN = 8


def _top_terms(pairs: list[tuple[str, float]]) -> list:
    """The largest contributions, then one [None, sum, count] for the rest, so the list still adds up to the score."""
    top = [[t, float(f"{c:.6g}")] for t, c in pairs[:TERMS_SHOWN]]
    rest = pairs[TERMS_SHOWN:]
    if rest:
        top.append([None, float(f"{sum(c for _, c in rest):.6g}"), len(rest)])
    return top


def doc_texts(corpus, ids: list[str]) -> dict[str, str]:
    want = set(ids)
    texts = getattr(corpus, "_explore_texts", None)
    if texts is None:  # one pass over the corpus per task, however many queries ask
        texts = {}
        corpus._explore_texts = texts
        corpus._explore_index = {d: i for i, d in enumerate(corpus.ids)}
    index = corpus._explore_index
    missing = [d for d in want if d not in texts and d in index]
    if missing:
        all_texts = corpus.texts
        for d in missing:
            texts[d] = all_texts[index[d]]
    return {d: texts[d] for d in ids if d in texts}


def explainers_for(inp: TaskInputs, systems: list[System], opts: Options) -> dict[str, TermExplainer | None]:
    """One BM25 index per distinct spec, shared by the systems that ran it (their rerankers included)."""
    out: dict[str, TermExplainer | None] = {}
    if not opts.terms or inp.corpus is None:
        return out
    built: dict[str, TermExplainer | None] = {}
    for s in systems:
        rec = s.records.get(inp.task)
        spec = rec.identity.get("retriever") if rec else None
        if not is_bm25(spec):
            continue
        key = repr(sorted(spec.items()))
        if key not in built:
            try:
                built[key] = TermExplainer(spec, inp.corpus)
            except (ValueError, OSError) as exc:
                inp.notes.append(f"{spec['name']}: no term contributions ({exc})")
                built[key] = None
        out[s.key] = built[key]
    return out
