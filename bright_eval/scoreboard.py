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
from .record import FELL_BACK, fell_back
from .results import by_system, load_results
from .scoring import HEADLINE, METRICS
from .tasks import TASKS

log = logging.getLogger(__name__)

SHORT = {"biology": "Bio.", "earth_science": "Earth.", "economics": "Econ.", "psychology": "Psy.", "robotics": "Rob.",
         "stackoverflow": "Stack.", "sustainable_living": "Sus.", "leetcode": "Leet.", "pony": "Pony", "aops": "AoPS",
         "theoremqa_questions": "TheoQ.", "theoremqa_theorems": "TheoT."}


def bright_sizes(task: str, long_documents: bool) -> tuple[int, ...]:
    """BRIGHT's published corpus sizes for a task (bright_eval/reference/bright_counts.toml, the one
    place they live): a measured row on a corpus of another size is not comparable with papers."""
    from .bright_identity import published_counts

    counts = published_counts().get(task)
    return () if counts is None else (counts.long_documents if long_documents else counts.documents)

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
    fell_back: list[str] = field(default_factory=list)  # tasks where every rewrite was empty (original queries used)

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
                      "comparable_with_bright": r.comparable, "fell_back_to_original": r.fell_back, "notes": r.notes,
                      "files": r.files} for r in self.rows],
            "sources": self.sources,
        }

    def to_pandas(self):
        """One row per leaderboard row: rewriter, retriever, kind, source, each task's score and the average."""
        import pandas as pd

        return pd.DataFrame([{"rewriter": r["rewriter"], "retriever": r["retriever"], "kind": r["kind"], "source": r["source"],
                              **r["scores"], "average": r["average"]} for r in self.to_dict()["rows"]])


def warn_mixed_environments(records, where) -> str | None:
    from .provenance import mixed_environments

    mixed = mixed_environments(records)
    if mixed:
        log.warning("%s: these results were computed in different environments (%s); numbers may differ for that reason alone",
                    where, mixed)
    return mixed


def measured_rows(results_dir: Path | str, metric: str = HEADLINE, tasks: list[str] | None = None,
                  settings: str | None = None, split_settings: bool = False) -> list[Row]:
    if metric not in METRICS:
        raise BrightEvalError(f"unknown metric '{metric}'; choose one of {', '.join(METRICS)}")
    rows = []
    records = load_results(results_dir)
    warn_mixed_environments(records, results_dir)
    for (rewriter, retriever), per_task in by_system(records, settings, split_settings).items():
        row = Row(rewriter, retriever, "measured", {})
        sources = set()
        for task, rec in per_task.items():
            if tasks and task not in tasks:
                continue
            value = rec.metrics.get(metric)
            if not isinstance(value, (int, float)):
                log.warning("%s: skipped, no numeric '%s' in metrics", rec.path, metric)
                continue
            row.scores[task] = 100 * value
            row.files.append(rec.path)
            if fell_back(rec.warnings if isinstance(rec.warnings, list) else []):
                row.fell_back.append(task)
            sources.add(str(rec.data.get("source", "?")))
            n_docs = rec.data.get("n_docs")
            sizes = bright_sizes(task, bool(rec.settings.get("long_documents")) if isinstance(rec.settings, dict) else False)
            if sizes and n_docs is not None and n_docs not in sizes:
                row.comparable = False
        if not row.scores:
            continue
        if len(sources) > 1:
            row.notes.append(f"mixed data sources: {', '.join(sorted(sources))}")
        if not row.comparable:
            row.notes.append("corpus differs from BRIGHT's (document counts): not comparable with reported numbers")
        if row.fell_back:
            row.notes.append(f"{FELL_BACK} on {', '.join(row.fell_back)}: those numbers are the original queries', not {rewriter}'s")
        rows.append(row)
    rows.sort(key=lambda r: (r.retriever, r.rewriter != "original", r.rewriter))
    return rows


def _ref_path(name: str):
    return resources.files("bright_eval") / "reference" / name


REPORTED_COLUMNS = ("source", "version", "via", "rewriter", "retriever", "setting", "metric", "task", "value")


def _reported_label(source: str, version: str) -> str:
    # BRIGHT's numbers changed between 2024 and the 2025 revision: say which one a row is.
    return f"{source}, BRIGHT {version} numbers" if version in ("2024", "2025") else source


def load_reported(path: Path | str | None = None, metric: str = HEADLINE, setting: str = "standard") -> list[Row]:
    """Reported rows of one metric and setting (standard or long documents), grouped by (source,
    version, rewriter, retriever). Columns: source, version (2024 | 2025 | unstated | n/a), via,
    rewriter, retriever, setting, metric, task, value (x100). A file with the older columns (source,
    via, rewriter, retriever, task, ndcg@10) is read as standard-setting nDCG@10."""
    text = (read_text(path, "a tab-separated file of reported scores") if path
            else _ref_path("reported.tsv").read_text(encoding="utf-8"))
    where = str(path or "bright_eval/reference/reported.tsv")
    rows: dict[tuple[str, ...], Row] = {}
    reader = csv.DictReader(io.StringIO(text), delimiter="\t")
    cols = set(reader.fieldnames or [])
    legacy = {"source", "via", "rewriter", "retriever", "task", "ndcg@10"}
    if not (set(REPORTED_COLUMNS) <= cols or legacy <= cols):
        raise BrightEvalError(f"{where}: expected tab-separated columns {', '.join(REPORTED_COLUMNS)}")
    for n, rec in enumerate(reader, 2):
        if "value" not in cols:
            rec = {**rec, "version": "", "setting": "standard", "metric": HEADLINE, "value": rec["ndcg@10"]}
        task = rec["task"]
        if task not in TASKS and task != "average":
            raise BrightEvalError(f"{where}:{n}: field 'task' must be a BRIGHT task or 'average', got '{task}'")
        try:
            value = float(rec["value"])  # a short row gives None: TypeError
            if not math.isfinite(value):
                raise ValueError
        except (TypeError, ValueError):
            field = "value" if "value" in cols else "ndcg@10"
            raise BrightEvalError(f"{where}:{n}: field '{field}' must be a finite number, got {rec['value']!r}") from None
        if rec["metric"] != metric or rec["setting"] != setting:
            continue
        key = (rec["source"], rec["version"], rec["rewriter"], rec["retriever"])
        label = _reported_label(rec["source"], rec["version"])
        row = rows.setdefault(key, Row(rec["rewriter"], rec["retriever"], "reported", {}, source=label, via=rec["via"]))
        if task in row.scores:
            raise BrightEvalError(f"{where}:{n}: a second value for {rec['rewriter']} + {rec['retriever']} on {task} ({label})")
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
          tasks: list[str] | None = None, reported_path: Path | None = None, settings: str | None = None,
          split_settings: bool = False, mteb_dir: Path | None = None) -> Leaderboard:
    """`mteb_dir`: MTEB result files (BrightRetrieval.json...) read as reported rows, beside or instead of the papers'."""
    rows = measured_rows(results_dir, metric, tasks, settings, split_settings)
    shown = [t for t in TASKS if any(t in r.scores for r in rows)]
    if tasks:
        shown = [t for t in TASKS if t in tasks]
    out: list[Row] = []
    sources: list[str] = []
    if with_reported or mteb_dir is not None:
        all_reported = load_reported(reported_path, metric) if with_reported else []
        if mteb_dir is not None:
            from .mteb_format import read_rows

            all_reported += read_rows(mteb_dir, metric)
        if not all_reported:
            where = " in --mteb-results" if mteb_dir is not None else ""
            raise BrightEvalError(f"no reported rows for {metric}{where} (papers report ndcg@10; Anserini also recall@100 and "
                                  f"recall@1000); drop --reported or use --metric {HEADLINE}")
        reported = [r for r in all_reported
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


FELL_BACK_MARK = "†"


def _label(row: Row, lb: Leaderboard) -> str:
    if row.kind == "measured":
        return "measured" + ("" if row.comparable else " (proxy)") + (f" {FELL_BACK_MARK}" if row.fell_back else "")
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
    lines += _footnotes(lb)
    for i, src in enumerate(lb.sources, 1):
        lines.append(f"[{i}] {src} (reported, not measured here)")
    return "\n".join(lines) + "\n"


def _footnotes(lb: Leaderboard) -> list[str]:
    return [f"{FELL_BACK_MARK} {row.rewriter} + {row.retriever}: {FELL_BACK} on {', '.join(row.fell_back)} (every rewrite was "
            f"empty): those numbers are the original queries', not the rewriter's." for row in lb.rows if row.fell_back]


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
        "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "Δ": r"$\Delta$",
        FELL_BACK_MARK: r"\dag{}"}


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
    lines += ["% " + _tex(note) for note in _footnotes(lb)]
    for i, src in enumerate(lb.sources, 1):
        lines.append(f"% [{i}] {src}")
    return "\n".join(lines) + "\n"


def _short_label(row: Row, lb: Leaderboard) -> str:
    return _label(row, lb).replace("measured", "meas.").replace("reported ", "").replace("Δ vs ", "Δ")


class _RichLeaderboard:
    """The table as wide as the console allows: one table when it fits, else the tasks folded into
    two tables with a wrapping system column, so an 80-column terminal never squeezes numbers away."""

    def __init__(self, lb: Leaderboard, digits: int):
        self.lb, self.digits = lb, digits

    def _wide(self):
        from rich.markup import escape
        from rich.table import Table

        lb = self.lb
        table = Table(title=f"{lb.metric} x100", title_justify="left")
        for col in ("rewriter", "retriever", "row"):
            table.add_column(col, no_wrap=True)
        for t in lb.tasks:
            table.add_column(SHORT[t], justify="right")
        table.add_column("Avg.", justify="right", style="bold")
        for row in lb.rows:
            # names carry settings as "[rerank_depth=10]", which rich would take for markup and drop
            table.add_row(escape(row.rewriter), escape(row.retriever), _label(row, lb), *_cells(row, lb, self.digits), style=_STYLE[row.kind])
        return table

    def _narrow(self, tasks: list[str], with_avg: bool, title: str):
        from rich import box
        from rich.markup import escape
        from rich.table import Table

        lb = self.lb
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
        table.add_column("rewriter + retriever", overflow="fold", ratio=1)
        table.add_column("row", no_wrap=True)
        for t in tasks:
            table.add_column(SHORT[t], justify="right", no_wrap=True)
        if with_avg:
            table.add_column("Avg.", justify="right", style="bold", no_wrap=True)
        for row in lb.rows:
            cells = _cells(row, lb, self.digits)
            vals = [cells[lb.tasks.index(t)] for t in tasks] + ([cells[-1]] if with_avg else [])
            table.add_row(escape(f"{row.rewriter} + {row.retriever}"), _short_label(row, lb), *vals, style=_STYLE[row.kind])
        return table

    def __rich_console__(self, console, options):
        from rich.measure import Measurement

        wide = self._wide()
        if Measurement.get(console, options.update(width=10_000), wide).maximum <= options.max_width:
            yield wide
            yield from self._notes()
            return
        tasks, half = self.lb.tasks, (len(self.lb.tasks) + 1) // 2
        yield self._narrow(tasks[:half], False, f"{self.lb.metric} x100 (1/2)")
        yield self._narrow(tasks[half:], True, f"{self.lb.metric} x100 (2/2)")
        yield from self._notes()

    def _notes(self):
        from rich.text import Text

        for note in _footnotes(self.lb):
            yield Text(note, style="yellow")


_STYLE = {"measured": None, "reported": "dim", "delta": "italic"}


def to_rich(lb: Leaderboard, digits: int = 1):
    return _RichLeaderboard(lb, digits)


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
