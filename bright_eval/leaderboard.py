"""Leaderboard tables from a results folder: one row per (rewriter, retriever), one column per task
(BRIGHT's order) and the average, optionally beside the papers' reported rows and the difference
between a measured row and its reported twin. Numbers are read from results files, never recomputed.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import json
import logging
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from statistics import fmean

from .errors import BrightEvalError
from .io import read_text
from .results import load_results
from .scoring import HEADLINE, METRICS
from .tasks import TASKS

log = logging.getLogger(__name__)

SHORT = {"biology": "Bio.", "earth_science": "Earth.", "economics": "Econ.", "psychology": "Psy.", "robotics": "Rob.",
         "stackoverflow": "Stack.", "sustainable_living": "Sus.", "leetcode": "Leet.", "pony": "Pony", "aops": "AoPS",
         "theoremqa_questions": "TheoQ.", "theoremqa_theorems": "TheoT."}
# Documents per task in BRIGHT (HF dataset card): a measured row on another corpus is not comparable.
BRIGHT_DOCS = {"biology": 57359, "earth_science": 121249, "economics": 50220, "psychology": 52835, "robotics": 61961,
               "stackoverflow": 107081, "sustainable_living": 60792, "leetcode": 413932, "pony": 7894, "aops": 188177,
               "theoremqa_questions": 188177, "theoremqa_theorems": 23839}
FORMATS = ("table", "markdown", "csv", "latex", "json")


@dataclass
class Row:
    rewriter: str
    retriever: str
    kind: str                              # measured | reported | delta
    scores: dict[str, float]               # task -> metric x100 ("average" for reported averages only)
    source: str = ""
    via: str = ""
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    comparable: bool = True                # measured on BRIGHT's own corpora (document counts match)

    def average(self, tasks: list[str]) -> float | None:
        vals = [self.scores[t] for t in tasks if t in self.scores]
        if len(vals) == len(tasks) and vals:
            return fmean(vals)
        # A published average (no per-task values on record) stands only for all 12 tasks.
        return self.scores.get("average") if not vals and list(tasks) == list(TASKS) else None


@dataclass
class Leaderboard:
    tasks: list[str]
    rows: list[Row]
    metric: str
    sources: list[str]

    def to_dict(self) -> dict:
        return {
            "metric": self.metric,
            "scale": "x100",
            "tasks": self.tasks,
            "rows": [{"rewriter": r.rewriter, "retriever": r.retriever, "kind": r.kind, "source": r.source, "via": r.via,
                      "scores": {t: r.scores[t] for t in self.tasks if t in r.scores}, "average": r.average(self.tasks),
                      "comparable_with_bright": r.comparable, "notes": r.notes, "files": r.files} for r in self.rows],
            "sources": self.sources,
        }


def measured_rows(results_dir: Path | str, metric: str = HEADLINE, tasks: list[str] | None = None) -> list[Row]:
    if metric not in METRICS:
        raise BrightEvalError(f"unknown metric '{metric}'; choose one of {', '.join(METRICS)}")
    by_system: dict[tuple[str, str], Row] = {}
    data_sources: dict[tuple[str, str], set[str]] = {}
    for rec in load_results(results_dir):
        task = rec["task"]
        if tasks and task not in tasks:
            continue
        value = rec["metrics"].get(metric)
        if not isinstance(value, (int, float)):
            log.warning("%s: skipped, no numeric '%s' in metrics", rec["_path"], metric)
            continue
        key = (rec["rewriter"], rec["retriever"])
        row = by_system.setdefault(key, Row(rec["rewriter"], rec["retriever"], "measured", {}))
        if task in row.scores:
            log.warning("%s: a second result for %s + %s on %s; keeping %s", rec["_path"], *key, task, row.files[-1])
            continue
        row.scores[task] = 100 * value
        row.files.append(rec["_path"])
        data = rec.get("data") or {}
        data_sources.setdefault(key, set()).add(str(data.get("source", "?")))
        n_docs = data.get("n_docs")
        if task in BRIGHT_DOCS and n_docs is not None and n_docs != BRIGHT_DOCS[task]:
            row.comparable = False
    for key, row in by_system.items():
        if len(data_sources[key]) > 1:
            row.notes.append(f"mixed data sources: {', '.join(sorted(data_sources[key]))}")
        if not row.comparable:
            row.notes.append("corpus differs from BRIGHT's (document counts): not comparable with reported numbers")
    rows = list(by_system.values())
    rows.sort(key=lambda r: (r.retriever, r.rewriter != "original", r.rewriter))
    return rows


def _ref_path(name: str):
    return resources.files("bright_eval") / "reference" / name


def load_reported(path: Path | str | None = None) -> list[Row]:
    """Reported rows, grouped by (source, rewriter, retriever); file columns: source, via, rewriter,
    retriever, task, ndcg@10 (x100)."""
    text = (read_text(path, "a tab-separated file of reported scores") if path
            else _ref_path("reported.tsv").read_text(encoding="utf-8"))
    where = str(path or "bright_eval/reference/reported.tsv")
    rows: dict[tuple[str, str, str], Row] = {}
    reader = csv.DictReader(io.StringIO(text), delimiter="\t")
    need = {"source", "via", "rewriter", "retriever", "task", "ndcg@10"}
    if not need <= set(reader.fieldnames or []):
        raise BrightEvalError(f"{where}: expected tab-separated columns {', '.join(sorted(need))}")
    for n, rec in enumerate(reader, 2):
        task = rec["task"]
        if task not in TASKS and task != "average":
            raise BrightEvalError(f"{where}:{n}: field 'task' must be a BRIGHT task or 'average', got '{task}'")
        try:
            value = float(rec["ndcg@10"])  # a short row gives None: TypeError
            if not math.isfinite(value):
                raise ValueError
        except (TypeError, ValueError):
            raise BrightEvalError(f"{where}:{n}: field 'ndcg@10' must be a finite number, got {rec['ndcg@10']!r}") from None
        key = (rec["source"], rec["rewriter"], rec["retriever"])
        row = rows.setdefault(key, Row(rec["rewriter"], rec["retriever"], "reported", {}, source=rec["source"], via=rec["via"]))
        row.scores[task] = value
    return list(rows.values())


def load_aliases(path: Path | str | None = None) -> dict[str, dict[str, list[str]]]:
    """{"rewriter"|"retriever": {reported name: [measured name patterns]}}."""
    text = Path(path).read_text(encoding="utf-8") if path else _ref_path("aliases.tsv").read_text(encoding="utf-8")
    out: dict[str, dict[str, list[str]]] = {"rewriter": {}, "retriever": {}}
    for rec in csv.DictReader(io.StringIO(text), delimiter="\t"):
        if rec["kind"] not in out:
            raise BrightEvalError(f"aliases: kind must be 'rewriter' or 'retriever', got '{rec['kind']}'")
        out[rec["kind"]][rec["reported"]] = [p.strip() for p in rec["measured"].split("|") if p.strip()]
    return out


def is_twin(measured: Row, reported: Row, aliases: dict[str, dict[str, list[str]]]) -> bool:
    def match(kind: str, reported_name: str, measured_name: str) -> bool:
        return any(fnmatch.fnmatchcase(measured_name, p) for p in aliases[kind].get(reported_name, ()))

    return match("rewriter", reported.rewriter, measured.rewriter) and match("retriever", reported.retriever, measured.retriever)


def build(results_dir: Path | str, metric: str = HEADLINE, with_reported: bool = False, reported_filter: str | None = None,
          tasks: list[str] | None = None, reported_path: Path | None = None) -> Leaderboard:
    rows = measured_rows(results_dir, metric, tasks)
    shown = [t for t in TASKS if any(t in r.scores for r in rows)]
    if tasks:
        shown = [t for t in TASKS if t in tasks]
    out: list[Row] = []
    sources: list[str] = []
    if with_reported:
        if metric != HEADLINE:
            raise BrightEvalError(f"reported rows are nDCG@10 only; drop --reported or use --metric {HEADLINE}")
        reported = [r for r in load_reported(reported_path)
                     if not reported_filter or reported_filter.lower() in f"{r.source} {r.rewriter} {r.retriever}".lower()]
        aliases = load_aliases()
        if not shown:
            shown = list(TASKS)
        for row in rows:
            out.append(row)
            for rep in reported:
                if is_twin(row, rep, aliases) and row.comparable:
                    diff = {t: row.scores[t] - rep.scores[t] for t in shown if t in row.scores and t in rep.scores}
                    m_avg, r_avg = row.average(shown), rep.average(shown)
                    if m_avg is not None and r_avg is not None:
                        diff["average"] = m_avg - r_avg
                    out.append(Row(row.rewriter, row.retriever, "delta", diff, source=rep.source,
                                   notes=[f"measured minus reported ({rep.retriever}, {rep.rewriter})"]))
        for rep in reported:
            out.append(rep)
            if rep.source not in sources:
                sources.append(rep.source)
    else:
        out = rows
    return Leaderboard(shown, out, metric, sources)


# -- rendering -------------------------------------------------------------------------------------
def _fmt(v: float | None, digits: int, signed: bool = False) -> str:
    if v is None:
        return "–"
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def _label(row: Row, lb: Leaderboard) -> str:
    if row.kind == "measured":
        return "measured" + ("" if row.comparable else " (proxy)")
    ref = lb.sources.index(row.source) + 1 if row.source in lb.sources else 0
    return f"reported [{ref}]" if row.kind == "reported" else f"Δ vs [{ref}]"


def _cells(row: Row, lb: Leaderboard, digits: int) -> list[str]:
    signed = row.kind == "delta"
    avg = row.scores.get("average") if signed else row.average(lb.tasks)
    return [_fmt(row.scores.get(t), digits, signed) for t in lb.tasks] + [_fmt(avg, digits, signed)]


def to_markdown(lb: Leaderboard, digits: int = 1) -> str:
    head = ["rewriter", "retriever", "row"] + [SHORT[t] for t in lb.tasks] + ["Avg."]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 3 + "---:|" * (len(lb.tasks) + 1)]
    for row in lb.rows:
        lines.append("| " + " | ".join([row.rewriter, row.retriever, _label(row, lb)] + _cells(row, lb, digits)) + " |")
    lines.append("")
    lines.append(f"{lb.metric} x100; Avg. = mean over the {len(lb.tasks)} tasks shown (tasks weighted equally).")
    if any(r.kind == "measured" and not r.comparable for r in lb.rows):
        lines.append("(proxy) = measured on a corpus other than BRIGHT's (document counts differ): not comparable with published numbers.")
    for i, src in enumerate(lb.sources, 1):
        lines.append(f"[{i}] {src} (reported, not measured here)")
    return "\n".join(lines) + "\n"


def to_csv(lb: Leaderboard) -> str:
    """Unrounded values (x100), one line per row: what a plotting script or a spreadsheet wants."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["rewriter", "retriever", "kind", "source"] + lb.tasks + ["average"])
    for row in lb.rows:
        avg = row.scores.get("average") if row.kind == "delta" else row.average(lb.tasks)
        w.writerow([row.rewriter, row.retriever, row.kind, row.source]
                   + [repr(row.scores[t]) if t in row.scores else "" for t in lb.tasks] + ["" if avg is None else repr(avg)])
    return buf.getvalue()


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
        "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "Δ": r"$\Delta$"}


def _tex(s: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in s)


def to_latex(lb: Leaderboard, digits: int = 1) -> str:
    cols = "ll" + "l" + "r" * (len(lb.tasks) + 1)
    lines = [r"\begin{tabular}{" + cols + "}", r"\toprule",
             " & ".join(["Rewriter", "Retriever", ""] + [_tex(SHORT[t]) for t in lb.tasks] + ["Avg."]) + r" \\", r"\midrule"]
    for row in lb.rows:
        cells = [_tex(row.rewriter), _tex(row.retriever), _tex(_label(row, lb))] + _cells(row, lb, digits)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    for i, src in enumerate(lb.sources, 1):
        lines.append(f"% [{i}] {src}")
    return "\n".join(lines) + "\n"


def to_rich(lb: Leaderboard, digits: int = 1):
    from rich.table import Table

    table = Table(title=f"{lb.metric} x100", title_justify="left")
    for col in ("rewriter", "retriever", "row"):
        table.add_column(col, no_wrap=True)
    for t in lb.tasks:
        table.add_column(SHORT[t], justify="right")
    table.add_column("Avg.", justify="right", style="bold")
    for row in lb.rows:
        style = {"measured": None, "reported": "dim", "delta": "italic"}[row.kind]
        table.add_row(row.rewriter, row.retriever, _label(row, lb), *_cells(row, lb, digits), style=style)
    return table


def render(lb: Leaderboard, fmt: str, digits: int = 1) -> str:
    if fmt == "markdown":
        return to_markdown(lb, digits)
    if fmt == "csv":
        return to_csv(lb)
    if fmt == "latex":
        return to_latex(lb, digits)
    if fmt == "json":
        return json.dumps(lb.to_dict()) + "\n"
    raise BrightEvalError(f"--format must be one of {', '.join(FORMATS)}, got '{fmt}'")
