"""The summary `bright-eval reproduce --out DIR` writes: reproduce.md, reproduce.html and
reproduce.json, built from the outcomes alone (no recomputation)."""

from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from pathlib import Path

from .io import atomic_write_text
from .reproduce import FAIL, OK, OKISH, SKIP, UNVERIFIED, Check, Outcome, revision_warning

LEGEND = (f"{OK}: within the row's tolerance. {OKISH}: within its OKish band (2 x tolerance unless the row "
          f"states one). {FAIL}: beyond, or the cell failed. OK, OKish and FAIL are given only on data known to be "
          f"BRIGHT (xlangai/BRIGHT at a resolved revision, or a checked `data export` of it, with BRIGHT's query and "
          f"document counts and every gold id in the corpus); otherwise {UNVERIFIED}, with the reason. {SKIP}: not run "
          f"here. Values are x100; measured minus published.")


def _num(v: float | None, digits: int = 2, signed: bool = False) -> str:
    if v is None:
        return "–"
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def _status(o: Outcome) -> str:
    if o.plan.blocked or not o.plan.tasks:
        return o.plan.status
    return o.verdict


def to_dict(outcomes: list[Outcome], data: str) -> dict:
    return {
        "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data_source": data,
        "rows": [{
            "id": o.row.id, "title": o.row.title, "system": o.row.system, "rewriter_used": o.plan.rewriter,
            "source": o.row.source, "bright_version": o.row.version, "via": o.row.via, "kind": o.row.kind,
            "verdict": o.verdict, "status": _status(o), "bright_revision_used": o.revision,
            "revision_warning": revision_warning(o.row, o.revision), "skipped": o.plan.skipped,
            "blocked": o.plan.blocked, "errors": o.errors, "unverified": o.unverified,
            "tasks_of_published_row": o.row.subset_of or len(o.row.tasks),
            "subset_mean_not_judged": (None if o.subset_mean() is None
                                       else {"metric": o.subset_mean()[0], "value": o.subset_mean()[1]}),
            "checks": [{"task": c.task, "metric": c.metric, "measured": c.measured, "published": c.expected,
                        "diff": c.diff, "tolerance": c.tolerance, "okish": c.okish, "verdict": c.verdict,
                        **({"unverified": c.why} if c.why else {})}
                       for c in o.checks],
        } for o in outcomes],
    }


def _checks_md(checks: list[Check]) -> list[str]:
    lines = ["| task | metric | measured | published | Δ | tol. | verdict |", "|---|---|---:|---:|---:|---:|---|"]
    for c in checks:
        lines.append(f"| {c.task} | {c.metric} | {_num(c.measured)} | {_num(c.expected)} | {_num(c.diff, signed=True)} "
                     f"| {c.tolerance:g} | {c.verdict} |")
    return lines


def to_markdown(outcomes: list[Outcome], data: str) -> str:
    lines = ["# bright-eval reproduce", "", f"Data: `{data}`", "", LEGEND, "",
             "| row | system | published in | verdict |", "|---|---|---|---|"]
    for o in outcomes:
        lines.append(f"| {o.row.id} | {o.plan.rewriter} + {o.row.retriever} | {o.row.cite} | {_status(o)} |")
    for o in outcomes:
        lines += ["", f"## {o.row.id}: {_status(o)}", "", f"{o.row.title}. Published in: {o.row.source} "
                  f"(BRIGHT version: {o.row.version}); via {o.row.via}."]
        if o.row.note:
            lines += ["", o.row.note]
        if o.revision:
            lines += ["", f"BRIGHT revision used: `{o.revision}`"]
        warn = revision_warning(o.row, o.revision)
        if warn:
            lines += ["", f"**Note:** {warn}."]
        if o.plan.skipped:
            lines += ["", "Skipped: " + ", ".join(f"{t} ({why})" for t, why in o.plan.skipped.items())]
        for task, err in o.errors.items():
            lines += ["", f"**{task} failed:** {err}"]
        for why, tasks in unverified_by_reason(o).items():
            lines += ["", f"**{UNVERIFIED}** ({', '.join(tasks)}): {why}"]
        if o.plan.tasks and not o.plan.blocked:
            lines += [""] + _checks_md(o.checks)
        if o.subset_note():
            lines += ["", o.subset_note().capitalize() + "."]
    return "\n".join(lines) + "\n"


_COLOUR = {OK: "#1a7f37", OKISH: "#9a6700", FAIL: "#cf222e", UNVERIFIED: "#8250df", SKIP: "#57606a"}


def unverified_by_reason(o: Outcome) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for task, why in o.unverified.items():
        out.setdefault(why, []).append(task)
    return out


def _v(verdict: str) -> str:
    colour = _COLOUR.get(verdict, "#57606a")
    return f'<span style="color:{colour};font-weight:bold">{html.escape(verdict)}</span>'


def to_html(outcomes: list[Outcome], data: str) -> str:
    e = html.escape
    parts = ["<!doctype html><meta charset='utf-8'><title>bright-eval reproduce</title>",
             "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 8px}td.n{text-align:right;font-family:monospace}</style>",
             f"<h1>bright-eval reproduce</h1><p>Data: <code>{e(data)}</code></p><p>{e(LEGEND)}</p>",
             "<table><tr><th>row</th><th>system</th><th>published in</th><th>verdict</th></tr>"]
    for o in outcomes:
        status = _status(o)
        cell = _v(status) if status in _COLOUR else e(status)
        parts.append(f"<tr><td><a href='#{e(o.row.id)}'>{e(o.row.id)}</a></td><td>{e(o.plan.rewriter)} + {e(o.row.retriever)}</td>"
                     f"<td>{e(o.row.cite)}</td><td>{cell}</td></tr>")
    parts.append("</table>")
    for o in outcomes:
        parts.append(f"<h2 id='{e(o.row.id)}'>{e(o.row.id)}</h2><p>{e(o.row.title)}. Published in: {e(o.row.source)} "
                     f"(BRIGHT version: {e(o.row.version)}); via {e(o.row.via)}.</p>")
        if o.row.note:
            parts.append(f"<p>{e(o.row.note)}</p>")
        if o.revision:
            parts.append(f"<p>BRIGHT revision used: <code>{e(o.revision)}</code></p>")
        warn = revision_warning(o.row, o.revision)
        if warn:
            parts.append(f"<p><b>Note:</b> {e(warn)}.</p>")
        if o.plan.blocked or not o.plan.tasks:
            parts.append(f"<p>{e(o.plan.status)}</p>")
            continue
        if o.plan.skipped:
            parts.append("<p>Skipped: " + e(", ".join(f"{t} ({why})" for t, why in o.plan.skipped.items())) + "</p>")
        for task, err in o.errors.items():
            parts.append(f"<p><b>{e(task)} failed:</b> {e(err)}</p>")
        for why, tasks in unverified_by_reason(o).items():
            parts.append(f"<p>{_v(UNVERIFIED)} ({e(', '.join(tasks))}): {e(why)}</p>")
        parts.append("<table><tr><th>task</th><th>metric</th><th>measured</th><th>published</th><th>Δ</th><th>tol.</th><th>verdict</th></tr>")
        for c in o.checks:
            parts.append(f"<tr><td>{e(c.task)}</td><td>{e(c.metric)}</td><td class=n>{_num(c.measured)}</td>"
                         f"<td class=n>{_num(c.expected)}</td><td class=n>{_num(c.diff, signed=True)}</td>"
                         f"<td class=n>{c.tolerance:g}</td><td>{_v(c.verdict)}</td></tr>")
        parts.append("</table>")
        if o.subset_note():
            parts.append(f"<p>{e(o.subset_note().capitalize())}.</p>")
    return "\n".join(parts) + "\n"


def write(outcomes: list[Outcome], data: str, out: Path) -> list[Path]:
    out = Path(out)
    paths = [out / "reproduce.md", out / "reproduce.html", out / "reproduce.json"]
    atomic_write_text(paths[0], to_markdown(outcomes, data))
    atomic_write_text(paths[1], to_html(outcomes, data))
    atomic_write_text(paths[2], json.dumps(to_dict(outcomes, data), indent=1) + "\n")
    return paths
