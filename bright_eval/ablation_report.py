"""Ablation reports: systems against a baseline, from the results files alone (no retrieval is rerun).

Each system (rewriter, retriever) is paired with the baseline on the same queries of each task:
per-task mean deltas with bootstrap CIs, paired t-tests and sign-flip randomization tests with Holm
correction across tasks, win/tie/loss counts; overall, the macro delta (tasks weighted equally, as
BRIGHT averages) with a stratified bootstrap CI and a macro randomization test, and a t-test over
all pooled queries. Output: JSON (every number), Markdown with PNG files, HTML with the PNGs embedded.
"""

from __future__ import annotations

import base64
import html
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean
from typing import Any

import numpy as np

from . import stats
from .errors import BrightEvalError, require
from .io import atomic_write_bytes, atomic_write_json, atomic_write_text
from .provenance import environment
from .results import ResultRecord, by_system, first_stage_label, load_results
from .scoring import HEADLINE, METRICS
from .tasks import TASKS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    metric: str = HEADLINE
    rounds: int = 10_000
    seed: int = 0
    level: float = 0.95
    alpha: float = 0.05
    top_n: int = 5


def _systems(results_dir: Path | str, settings: str | None, split_settings: bool) -> dict[tuple[str, str], dict[str, ResultRecord]]:
    from .scoreboard import warn_mixed_environments

    records = load_results(results_dir)
    warn_mixed_environments(records, results_dir)
    return by_system(records, settings, split_settings)


def _words(text: str) -> int:
    return len(text.split())


def compare(system: dict[str, dict], baseline: dict[str, dict], s: Settings) -> dict[str, Any] | None:
    """Paired comparison over the tasks both have; None when they share no task."""
    tasks = [t for t in TASKS if t in system and t in baseline]
    per_task, diffs, pooled_sys, pooled_base, queries = [], [], [], [], []
    for task in tasks:
        srec, brec = system[task], baseline[task]
        s_fp, b_fp = srec.data.get("examples_fingerprint"), brec.data.get("examples_fingerprint")
        if s_fp and b_fp and s_fp != b_fp:
            log.warning("%s vs %s: different example sets (examples_fingerprint), task %s not compared", srec.path, brec.path, task)
            continue
        qids = [q for q in brec.per_query if q in srec.per_query]
        if len(qids) < len(brec.per_query) or len(qids) < len(srec.per_query):
            log.warning("%s: %d queries paired with the baseline out of %d / %d", task, len(qids), len(srec.per_query), len(brec.per_query))
        if not qids:
            continue
        a = np.array([srec.per_query[q][s.metric] for q in qids], float)
        b = np.array([brec.per_query[q][s.metric] for q in qids], float)
        d = a - b
        t, p_t = stats.paired_t(a, b)
        lo, hi = stats.bootstrap_ci([d], s.rounds, s.seed, s.level)
        w, ti, lo_ = stats.win_tie_loss(d)
        per_task.append({"task": task, "n": len(qids), "baseline": float(b.mean()), "system": float(a.mean()),
                         "delta": float(d.mean()), "ci": [lo, hi], "t": t, "p_t": p_t,
                         "p_rand": stats.randomization(d, s.rounds, s.seed), "wins": w, "ties": ti, "losses": lo_})
        diffs.append(d)
        pooled_sys.append(a)
        pooled_base.append(b)
        s_q, b_q = srec.queries, brec.queries
        for q, dv, av, bv in zip(qids, d, a, b):
            rewritten = (s_q.get(q) or {}).get("rewritten", "")
            queries.append({"task": task, "qid": q, "delta": float(dv), "system": float(av), "baseline": float(bv),
                            "original": (s_q.get(q) or b_q.get(q) or {}).get("original", ""), "rewritten": rewritten,
                            "baseline_rewritten": (b_q.get(q) or {}).get("rewritten", ""), "rewrite_words": _words(rewritten)})
    if not per_task:
        return None
    for key in ("p_t", "p_rand"):
        for row, adj in zip(per_task, stats.holm([r[key] for r in per_task])):
            row[key + "_holm"] = adj
    sizes = [len(d) for d in diffs]
    all_d = np.concatenate(diffs)
    t_all, p_t_all = stats.paired_t(np.concatenate(pooled_sys), np.concatenate(pooled_base))
    w, ti, lo_ = stats.win_tie_loss(all_d)
    overall = {
        "tasks": len(per_task), "n": int(len(all_d)),
        "baseline": fmean(r["baseline"] for r in per_task), "system": fmean(r["system"] for r in per_task),
        "delta": fmean(r["delta"] for r in per_task),  # macro, as BRIGHT averages tasks
        "ci": list(stats.bootstrap_ci(diffs, s.rounds, s.seed, s.level)),
        "p_rand_macro": stats.randomization(all_d, s.rounds, s.seed, stats.macro_weights(sizes)),
        "pooled_delta": float(all_d.mean()), "t_pooled": t_all, "p_t_pooled": p_t_all,
        "p_rand_pooled": stats.randomization(all_d, s.rounds, s.seed),
        "wins": w, "ties": ti, "losses": lo_,
    }
    queries.sort(key=lambda r: r["delta"])
    return {"per_task": per_task, "overall": overall, "queries": queries}


def build_report(results_dir: Path | str, baseline_rewriter: str, baseline_retriever: str | None = None,
                 rewriters: list[str] | None = None, retrievers: list[str] | None = None, settings: Settings = Settings(),
                 results_settings: str | None = None, split_settings: bool = False, ablation: str = "rewriter") -> dict:
    """Everything the report shows, as JSON-able data. Without `baseline_retriever` each system is
    compared with the baseline rewriter under its own retriever (the rewriter ablation); with
    `ablation="reranker"` each reranked system is compared with its own first stage (same rewriter,
    retriever and settings, reranker off)."""
    if ablation not in ("rewriter", "reranker"):
        raise BrightEvalError(f"--ablation must be rewriter or reranker, got '{ablation}'")
    if settings.metric not in METRICS:
        raise BrightEvalError(f"unknown metric '{settings.metric}'; choose one of {', '.join(METRICS)}")
    systems = _systems(results_dir, results_settings, split_settings)
    if not systems:
        raise BrightEvalError(f"no results files under {results_dir} (--results-dir)")
    comparisons = []
    for (rw, ret), recs in sorted(systems.items()):
        if (rewriters and rw not in rewriters) or (retrievers and ret not in retrievers):
            continue
        if ablation == "reranker":
            first = next(iter(recs.values()))
            if first.reranker is None:
                continue
            base_key = first_stage_label(first)
        else:
            base_key = (baseline_rewriter, baseline_retriever or ret)
        if (rw, ret) == base_key:
            continue
        if base_key not in systems:
            continue
        result = compare(recs, systems[base_key], settings)
        if result is None:
            log.warning("%s + %s shares no task with the baseline %s + %s", rw, ret, *base_key)
            continue
        qs = result.pop("queries")
        # Texts only for the queries the report shows; every query keeps its delta and rewrite length.
        wins = [q for q in reversed(qs[-settings.top_n:]) if q["delta"] > 0]
        losses = [q for q in qs[:settings.top_n] if q["delta"] < 0]
        result["queries"] = [{k: q[k] for k in ("task", "qid", "delta", "rewrite_words")} for q in qs]
        result["examples"] = [{"kind": "win", **q} for q in wins] + [{"kind": "loss", **q} for q in losses]
        comparisons.append({"rewriter": rw, "retriever": ret, "baseline": {"rewriter": base_key[0], "retriever": base_key[1]}, **result})
    if not comparisons:
        known = ", ".join(f"{a} + {b}" for a, b in sorted(systems))
        raise BrightEvalError(f"no system to compare with baseline rewriter '{baseline_rewriter}'"
                              f"{' + ' + baseline_retriever if baseline_retriever else ''}; systems found: {known}")
    return {
        "schema": "bright-eval.report/1",
        "results_dir": str(results_dir),
        "ablation": ablation,
        "baseline": ({"rewriter": "(same as the system)", "retriever": "(the system's first stage, reranker off)"}
                     if ablation == "reranker" else
                     {"rewriter": baseline_rewriter, "retriever": baseline_retriever or "(same retriever as the system)"}),
        "settings": settings.__dict__,
        "comparisons": comparisons,
        "environment": environment(),
    }


# -- figures ---------------------------------------------------------------------------------------
def _label(c: dict) -> str:
    return f"{c['rewriter']} + {c['retriever']}"


def figures(report: dict) -> dict[str, bytes]:
    """PNG bytes by file name: per-task deltas with CIs, and per-query gain against rewrite length."""
    mpl = require("matplotlib", "report", "report figures")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    comps = report["comparisons"]
    metric = report["settings"]["metric"]
    out: dict[str, bytes] = {}

    tasks = [t for t in TASKS if any(r["task"] == t for c in comps for r in c["per_task"])]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(tasks) * max(1, len(comps)) ** 0.5 + 2), 4))
    width = 0.8 / len(comps)
    for i, c in enumerate(comps):
        rows = {r["task"]: r for r in c["per_task"]}
        xs = [j + (i - (len(comps) - 1) / 2) * width for j, t in enumerate(tasks) if t in rows]
        ys = [100 * rows[t]["delta"] for t in tasks if t in rows]
        err = np.array([[100 * (rows[t]["delta"] - rows[t]["ci"][0]), 100 * (rows[t]["ci"][1] - rows[t]["delta"])]
                        for t in tasks if t in rows]).T
        ax.bar(xs, ys, width, yerr=err, capsize=2, label=_label(c))
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(tasks)), [t.replace("_", "\n") for t in tasks], fontsize=8)
    ax.set_ylabel(f"Δ {metric} x100 vs baseline")
    ax.set_title(f"Per-task Δ {metric} ({int(100 * report['settings']['level'])}% bootstrap CI)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    out["per_task_delta.png"] = _png(fig)

    n = len(comps)
    cols = min(3, n)
    rows_n = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.2 * cols, 3.4 * rows_n), squeeze=False)
    for ax, c in zip(axes.flat, comps):
        x = np.array([q["rewrite_words"] for q in c["queries"]], float)
        y = np.array([100 * q["delta"] for q in c["queries"]], float)
        ax.scatter(x, y, s=6, alpha=0.4)
        if len(x) >= 10 and np.ptp(x) > 0:
            edges = np.unique(np.quantile(x, np.linspace(0, 1, 6)))
            mids, means = [], []
            for lo, hi in zip(edges[:-1], edges[1:]):
                sel = (x >= lo) & (x <= hi)
                if sel.any():
                    mids.append(x[sel].mean())
                    means.append(y[sel].mean())
            ax.plot(mids, means, color="C3", marker="o", label="quintile mean")
            ax.legend(fontsize=7)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_title(_label(c), fontsize=9)
        ax.set_xlabel("rewrite length (words)")
        ax.set_ylabel(f"Δ {metric} x100")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    out["gain_vs_length.png"] = _png(fig)
    plt.close("all")
    return out


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


# -- documents -------------------------------------------------------------------------------------
def _p(v: float) -> str:
    if v is None or v != v:
        return "n/a"
    return "<0.0001" if v < 1e-4 else f"{v:.4f}"


def _sig(p: float, alpha: float) -> str:
    return "*" if p == p and p < alpha else ""


def explorer_link(explorer: str, page: list[str], a: str, b: str) -> str:
    """A link into `bright-eval explore`'s site: page ['task', t] or ['query', t, qid], systems A and B by label."""
    from urllib.parse import quote, urlencode

    return f"{explorer}#/" + "/".join(quote(p, safe="") for p in page) + "?" + urlencode({"a": a, "b": b}, quote_via=quote)


def _blocks(report: dict, fig_names: list[str]) -> list[tuple]:
    """The report as blocks (heading / para / table / figure / query / link), rendered to Markdown or HTML."""
    s = report["settings"]
    explorer = report.get("explorer")
    pct = int(100 * s["level"])
    b: list[tuple] = [("h1", f"Ablation report: {s['metric']}")]
    base = report["baseline"]
    b.append(("p", f"Baseline: rewriter `{base['rewriter']}`, retriever `{base['retriever']}`. Results: `{report['results_dir']}`. "
                   f"Generated {report['environment']['created']}. Every number comes from the results files; no retrieval was rerun."))
    b.append(("p", f"Tests per task: paired t-test and sign-flip randomization ({s['rounds']} rounds, seed {s['seed']}; exact when "
                   f"2^n ≤ rounds), Holm-Bonferroni across tasks; {pct}% percentile bootstrap CIs. Overall: macro Δ (tasks weighted "
                   f"equally, as BRIGHT averages) with a stratified bootstrap CI and a macro randomization test; t-test over all pooled "
                   f"queries. Values x100; * = adjusted p < {s['alpha']}."))
    b.append(("h2", "Summary"))
    rows = []
    for c in report["comparisons"]:
        o = c["overall"]
        rows.append([c["rewriter"], c["retriever"], str(o["tasks"]), str(o["n"]), f"{100 * o['baseline']:.2f}", f"{100 * o['system']:.2f}",
                     f"{100 * o['delta']:+.2f}", f"[{100 * o['ci'][0]:+.2f}, {100 * o['ci'][1]:+.2f}]",
                     _p(o["p_rand_macro"]) + _sig(o["p_rand_macro"], s["alpha"]), _p(o["p_t_pooled"]) + _sig(o["p_t_pooled"], s["alpha"]),
                     f"{o['wins']}/{o['ties']}/{o['losses']}"])
    b.append(("table", ["rewriter", "retriever", "tasks", "queries", "baseline", "system", "Δ macro", f"{pct}% CI",
                        "p rand (macro)", "p t (pooled)", "W/T/L"], rows))
    b.append(("h2", "Per-task deltas"))
    for c in report["comparisons"]:
        b.append(("h3", f"{_label(c)} vs {c['baseline']['rewriter']} + {c['baseline']['retriever']}"))
        rows = [[r["task"], str(r["n"]), f"{100 * r['baseline']:.2f}", f"{100 * r['system']:.2f}", f"{100 * r['delta']:+.2f}",
                 f"[{100 * r['ci'][0]:+.2f}, {100 * r['ci'][1]:+.2f}]", _p(r["p_t"]), _p(r["p_t_holm"]) + _sig(r["p_t_holm"], s["alpha"]),
                 _p(r["p_rand"]), _p(r["p_rand_holm"]) + _sig(r["p_rand_holm"], s["alpha"]), f"{r['wins']}/{r['ties']}/{r['losses']}"]
                for r in c["per_task"]]
        b.append(("table", ["task", "n", "baseline", "system", "Δ", f"{pct}% CI", "p t", "p t Holm", "p rand", "p rand Holm", "W/T/L"], rows))
        if explorer:
            base = f"{c['baseline']['rewriter']} + {c['baseline']['retriever']}"
            b.append(("links", "query by query in the explorer:",
                      [(r["task"], explorer_link(explorer, ["task", r["task"]], base, _label(c))) for r in c["per_task"]]))
    b.append(("h2", "Figures"))
    captions = {"per_task_delta.png": "Per-task Δ with bootstrap CIs.",
                "gain_vs_length.png": "Per-query Δ against the length of the system's rewrite (words), with quintile means."}
    for name in fig_names:
        b.append(("figure", name, captions.get(name, name)))
    b.append(("h2", f"Largest wins and losses (top {s['top_n']} each)"))
    for c in report["comparisons"]:
        b.append(("h3", _label(c)))
        if not c["examples"]:
            b.append(("p", "No query changed."))
        for q in c["examples"]:
            b.append(("query", q["kind"], q))
            if explorer:
                base = f"{c['baseline']['rewriter']} + {c['baseline']['retriever']}"
                url = explorer_link(explorer, ["query", q["task"], q["qid"]], base, _label(c))
                b.append(("links", "", [("open this query in the explorer", url)]))
    return b


def _clip(text: str, n: int = 1200) -> str:
    return text if len(text) <= n else text[:n] + f" … [{len(text) - n} more characters]"


def to_markdown(blocks: list[tuple], fig_dir: str) -> str:
    out: list[str] = []
    for blk in blocks:
        kind = blk[0]
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + blk[1])
        elif kind == "p":
            out.append(blk[1])
        elif kind == "table":
            out.append("| " + " | ".join(blk[1]) + " |")
            out.append("|" + "---|" * len(blk[1]))
            out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in blk[2]]
        elif kind == "figure":
            out.append(f"![{blk[2]}]({fig_dir}/{blk[1]})")
        elif kind == "links":
            out.append(" ".join([blk[1]] * bool(blk[1]) + [f"[{text}](<{url}>)" for text, url in blk[2]]))
        elif kind == "query":
            q = blk[2]
            out.append(f"**{blk[1]}** {q['task']}/{q['qid']}: Δ {100 * q['delta']:+.1f} ({100 * q['baseline']:.1f} → {100 * q['system']:.1f}), "
                       f"rewrite {q['rewrite_words']} words")
            out.append("> **query:** " + _clip(q["original"]).replace("\n", " "))
            if q["rewritten"] != q["original"]:
                out.append(">\n> **rewrite:** " + _clip(q["rewritten"]).replace("\n", " "))
        out.append("")
    return "\n".join(out)


def to_html(blocks: list[tuple], images: dict[str, bytes], title: str) -> str:
    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title><style>"
             "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.4}"
             "table{border-collapse:collapse;font-size:13px;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
             "td:first-child,th:first-child,td:nth-child(2){text-align:left}blockquote{color:#333;border-left:3px solid #ccc;margin:.3em 0;"
             "padding:.2em .8em;font-size:13px;white-space:pre-wrap}img{max-width:100%}</style></head><body>"]
    for blk in blocks:
        kind = blk[0]
        if kind in ("h1", "h2", "h3"):
            parts.append(f"<{kind}>{e(blk[1])}</{kind}>")
        elif kind == "p":
            parts.append(f"<p>{e(blk[1])}</p>")
        elif kind == "table":
            parts.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in blk[1]) + "</tr>")
            parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in blk[2]]
            parts.append("</table>")
        elif kind == "links":
            parts.append("<p>" + e(blk[1]) + " " + " · ".join(f"<a href='{e(url)}'>{e(text)}</a>" for text, url in blk[2]) + "</p>")
        elif kind == "figure":
            data = base64.b64encode(images[blk[1]]).decode("ascii")
            parts.append(f"<figure><img alt='{e(blk[2])}' src='data:image/png;base64,{data}'><figcaption>{e(blk[2])}</figcaption></figure>")
        elif kind == "query":
            q = blk[2]
            parts.append(f"<p><b>{e(blk[1])}</b> {e(q['task'])}/{e(q['qid'])}: Δ {100 * q['delta']:+.1f} "
                         f"({100 * q['baseline']:.1f} → {100 * q['system']:.1f}), rewrite {q['rewrite_words']} words</p>")
            parts.append(f"<blockquote><b>query:</b> {e(_clip(q['original']))}</blockquote>")
            if q["rewritten"] != q["original"]:
                parts.append(f"<blockquote><b>rewrite:</b> {e(_clip(q['rewritten'], 3000))}</blockquote>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(report: dict, out_dir: Path | str, html_too: bool = True) -> dict[str, Path]:
    """report.json, report.md (+ figures/*.png) and report.html (figures embedded) in `out_dir`."""
    out_dir = Path(out_dir)
    images = figures(report)
    for name, data in images.items():
        atomic_write_bytes(out_dir / "figures" / name, data)
    blocks = _blocks(report, list(images))
    paths = {"json": out_dir / "report.json", "markdown": out_dir / "report.md"}
    atomic_write_json(paths["json"], report)
    atomic_write_text(paths["markdown"], to_markdown(blocks, "figures"))
    if html_too:
        paths["html"] = out_dir / "report.html"
        atomic_write_text(paths["html"], to_html(blocks, images, f"bright-eval ablation: {report['settings']['metric']}"))
    return paths
