"""`bright-eval reproduce`: run published rows and say, per task, whether this setup gives the
published number.

Rows live in `reference/published.toml`; their expected values are rows of `reference/reported.tsv`
(so each number has one home and one recorded source). A row runs only what this machine can: a task
without documents, a row that needs a GPU or an API key, or a reasoning set the data source lacks is
skipped with the reason. Cells run through `_run_row`, the only function here that knows how.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from statistics import fmean
from typing import Any

from .errors import BrightEvalError
from .storage import location
from .tasks import TASKS

OK, OKISH, FAIL, SKIP, UNVERIFIED = "OK", "OKish", "FAIL", "skip", "UNVERIFIED"
# A FAIL on BRIGHT outranks numbers that cannot be judged: it is a finding, they are not.
_RANK = {SKIP: 0, OK: 1, OKISH: 2, UNVERIFIED: 3, FAIL: 4}
VERIFIED = (OK, OKISH, FAIL)
KINDS = ("deterministic", "anserini", "dense", "sampled")
PROTOCOLS = ("bright", "anserini")


# -- verdicts (pure) -------------------------------------------------------------------------------
def verdict(measured: float | None, expected: float, tolerance: float, okish: float | None = None) -> str:
    """OK when |measured - expected| <= tolerance; OKish when within `okish` (default 2 x tolerance);
    else FAIL; `skip` when nothing was measured. A 1e-9 slack absorbs float noise at the edges."""
    if measured is None:
        return SKIP
    band = 2 * tolerance if okish is None else okish
    diff = abs(measured - expected)
    if diff <= tolerance + 1e-9:
        return OK
    if diff <= band + 1e-9:
        return OKISH
    return FAIL


def worst(verdicts: Iterable[str]) -> str:
    """A row's verdict: its worst check; `skip` if nothing was checked."""
    return max(verdicts, key=_RANK.__getitem__, default=SKIP)


@dataclass(frozen=True)
class Check:
    task: str  # a task or "average"
    metric: str
    measured: float | None  # x100
    expected: float  # x100
    tolerance: float
    okish: float
    verdict: str
    why: str = ""  # why the verdict is UNVERIFIED

    @property
    def diff(self) -> float | None:
        return None if self.measured is None else self.measured - self.expected


# -- rows --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    id: str
    title: str
    rewriter: str
    retriever: str
    kind: str
    tolerance: float
    expected: dict[str, dict[str, float]]  # metric -> task | "average" -> value x100
    source: str
    version: str
    via: str
    cite: str
    tasks: tuple[str, ...] = TASKS
    metrics: tuple[str, ...] = ("ndcg@10",)
    rewriter_args: dict[str, Any] = field(default_factory=dict)
    retriever_args: dict[str, Any] = field(default_factory=dict)
    rewriter_fallback: str | None = None
    okish: float | None = None
    tolerance_average: float | None = None
    task_okish: dict[str, float] = field(default_factory=dict)
    needs: tuple[str, ...] = ("documents",)
    protocol: str = "bright"
    bright_revision: str | None = None
    note: str = ""
    subset_of: int = 0  # with --tasks: how many tasks the published row has (0: all of them are run)

    @property
    def system(self) -> str:
        return f"{self.rewriter} + {self.retriever}"

    def band(self, task: str) -> tuple[float, float]:
        """(tolerance, okish band) for a task or "average"."""
        tol = self.tolerance_average if task == "average" and self.tolerance_average is not None else self.tolerance
        okish = self.task_okish.get(task, self.okish if self.okish is not None else 2 * tol)
        return tol, max(okish, tol)


def _published_text(path: Path | str | None) -> tuple[str, str]:
    if path:
        return Path(path).read_text(encoding="utf-8"), str(path)
    return (resources.files("bright_eval") / "reference" / "published.toml").read_text(encoding="utf-8"), "published.toml"


def load_rows(path: Path | str | None = None, reported_path: Path | str | None = None) -> list[Row]:
    """Every published row, with its expected values resolved from reported.tsv."""
    import tomllib

    from .scoreboard import _reported_label, load_reported

    text, where = _published_text(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BrightEvalError(f"{where}: not valid TOML ({exc})") from None
    reported: dict[str, list] = {}
    rows: list[Row] = []
    names = {f.name for f in dataclasses.fields(Row)} - {"expected", "source", "version", "via", "subset_of"}
    for n, rec in enumerate(doc.get("row", []), 1):
        rec = dict(rec)
        ref = rec.pop("expected", None)
        unknown = set(rec) - names
        if unknown or not isinstance(ref, dict):
            raise BrightEvalError(f"{where}: row {n}: unknown field(s) {sorted(unknown)} or no `expected` table")
        metrics = tuple(rec.pop("metrics", ("ndcg@10",)))
        label = _reported_label(ref["source"], ref["version"])
        expected: dict[str, dict[str, float]] = {}
        via = ""
        for metric in metrics:
            if metric not in reported:
                reported[metric] = load_reported(reported_path, metric)
            match = [r for r in reported[metric]
                     if r.source == label and r.rewriter == ref["rewriter"] and r.retriever == ref["retriever"]]
            if len(match) != 1:
                raise BrightEvalError(f"{where}: row '{rec.get('id')}': {metric} {ref} matches {len(match)} rows of reported.tsv")
            expected[metric], via = dict(match[0].scores), match[0].via
        tasks = tuple(rec.pop("tasks", TASKS))
        row = Row(expected=expected, source=ref["source"], version=ref["version"], via=via, tasks=tasks, metrics=metrics,
                  needs=tuple(rec.pop("needs", ("documents",))), **rec)
        _validate(row, where)
        rows.append(row)
    ids = [r.id for r in rows]
    if len(set(ids)) != len(ids):
        raise BrightEvalError(f"{where}: duplicate row ids")
    return rows


def _validate(row: Row, where: str) -> None:
    bad = [t for t in row.tasks if t not in TASKS]
    if bad or row.kind not in KINDS or row.protocol not in PROTOCOLS:
        raise BrightEvalError(f"{where}: row '{row.id}': bad tasks {bad}, kind '{row.kind}' or protocol '{row.protocol}'")
    for metric, values in row.expected.items():
        if not all(t in values for t in row.tasks) and "average" not in values:
            raise BrightEvalError(f"{where}: row '{row.id}': {metric} has neither every task nor an average")


def select(rows: list[Row], ids: list[str], all_rows: bool) -> list[Row]:
    if all_rows:
        return rows
    if not ids:
        raise BrightEvalError("name one or more rows (see `bright-eval reproduce --list`), or give --all")
    by_id = {r.id: r for r in rows}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        import difflib

        hints = {u: difflib.get_close_matches(u, list(by_id), n=1) for u in unknown}
        hint = "; ".join(f"{u}: did you mean {h[0]}?" for u, h in hints.items() if h)
        raise BrightEvalError(f"unknown row(s) {', '.join(unknown)}; see `bright-eval reproduce --list`" + (f" ({hint})" if hint else ""))
    return [by_id[i] for i in ids]


def restrict(row: Row, tasks: list[str]) -> Row:
    """`row` over the chosen tasks only. A published average is over all of a row's tasks, so a row
    cut down loses it: its tasks are checked one by one, and their mean is shown but not judged."""
    chosen = tuple(t for t in row.tasks if t in tasks)
    if chosen == row.tasks:
        return row
    expected = {m: {t: v for t, v in e.items() if t != "average"} for m, e in row.expected.items()}
    return dataclasses.replace(row, tasks=chosen, expected=expected, subset_of=len(row.tasks))


def published_average(row: Row) -> float | None:
    """The row's published average of its first metric: printed, or the mean of its printed per-task
    values (what the papers' average columns are)."""
    exp = row.expected[row.metrics[0]]
    if "average" in exp:
        return exp["average"]
    return fmean(exp[t] for t in row.tasks) if all(t in exp for t in row.tasks) else None


# -- comparison (pure) -------------------------------------------------------------------------------
def compare(row: Row, measured: dict[str, dict[str, Any]], unverified: dict[str, str] | None = None) -> list[Check]:
    """Checks of measured metrics ({task: {metric: 0-1 value}}, as results files hold them) against
    the row's expectations. The average is checked only when every task of the row was measured, and
    never for a row cut down by --tasks. A task in `unverified` (task -> why its data is not known to
    be BRIGHT) is UNVERIFIED whatever its numbers, and so is an average over it."""
    unverified = unverified or {}
    checks: list[Check] = []
    for metric in row.metrics:
        exp = row.expected[metric]
        got: dict[str, float] = {}
        for task in row.tasks:
            value = (measured.get(task) or {}).get(metric)
            if isinstance(value, (int, float)):
                got[task] = 100 * value
            if task in exp:
                tol, okish = row.band(task)
                checks.append(_check(task, metric, got.get(task), exp[task], tol, okish, unverified.get(task, "")))
        if row.subset_of:
            continue
        expected_avg = exp.get("average")
        if expected_avg is None and all(t in exp for t in row.tasks):
            expected_avg = fmean(exp[t] for t in row.tasks)
        if expected_avg is not None:
            m_avg = fmean(got[t] for t in row.tasks) if len(got) == len(row.tasks) else None
            tol, okish = row.band("average")
            why = "; ".join(sorted({unverified[t] for t in row.tasks if t in unverified}))
            checks.append(_check("average", metric, m_avg, expected_avg, tol, okish, why))
    return checks


def _check(task: str, metric: str, measured: float | None, expected: float, tol: float, okish: float, why: str) -> Check:
    v = verdict(measured, expected, tol, okish)
    if why and v != SKIP:
        return Check(task, metric, measured, expected, tol, okish, UNVERIFIED, why)
    return Check(task, metric, measured, expected, tol, okish, v)


# -- what this machine can run -------------------------------------------------------------------------
@dataclass(frozen=True)
class Machine:
    gpu: bool
    env: frozenset[str]

    @classmethod
    def detect(cls) -> Machine:
        return cls(gpu_visible(), frozenset(k for k, v in os.environ.items() if v))


def gpu_visible() -> bool:
    """A CUDA GPU, without importing torch (seconds) unless it is already loaded."""
    import sys

    if "torch" in sys.modules:
        return bool(sys.modules["torch"].cuda.is_available())
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    try:
        res = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return res.returncode == 0 and "GPU" in res.stdout


def effective_rewriter(row: Row) -> str:
    """The row's rewriter if the registry knows it, else its fallback (e.g. `tsqr-7b@published` is
    added by another part of the project; until then the data folder's copy of the same rewrites)."""
    from bright_eval.rewriters import REWRITERS

    try:
        REWRITERS.lookup(row.rewriter)
        return row.rewriter
    except BrightEvalError:
        if row.rewriter_fallback:
            return row.rewriter_fallback
        raise


@dataclass
class Plan:
    row: Row
    rewriter: str
    tasks: list[str]  # tasks to run
    skipped: dict[str, str]  # task -> why
    blocked: str = ""  # why the whole row cannot run here

    @property
    def status(self) -> str:
        if self.blocked:
            return f"no: {self.blocked}"
        if not self.tasks:
            return "no: " + _summarise(self.skipped)
        if self.skipped:
            return f"partly: {len(self.tasks)}/{len(self.row.tasks)} tasks ({_summarise(self.skipped)})"
        return "yes"


def _summarise(skipped: dict[str, str]) -> str:
    reasons: dict[str, int] = {}
    for why in skipped.values():
        reasons[why] = reasons.get(why, 0) + 1
    return "; ".join(f"{why} ({n})" for why, n in reasons.items())


def plan(row: Row, source, machine: Machine, tasks: list[str] | None = None) -> Plan:
    """What of `row` this machine can run from `source` (None: no data source could be opened)."""
    from .data import Versioned, has_split, reasoning_names

    wanted = [t for t in row.tasks if tasks is None or t in tasks]
    rewriter = effective_rewriter(row)
    p = Plan(row, rewriter, [], {})
    for need in row.needs:
        if need == "gpu" and not machine.gpu:
            p.blocked = "needs a GPU"
        elif need.startswith("api:") and need[4:] not in machine.env:
            p.blocked = f"needs {need[4:]} in the environment"
    if p.blocked:
        return p
    try:
        if isinstance(source, Versioned):
            source.check()
        sets = reasoning_names(source) if rewriter.startswith("bright:") else []
    except BrightEvalError:
        p.blocked = "data unavailable"  # the full message is printed once, by the caller
        return p
    if rewriter.startswith("bright:") and rewriter.split(":", 1)[1] not in sets:
        p.blocked = f"no {rewriter.split(':', 1)[1]} reasoning set in the data"
        return p
    for task in wanted:
        if has_split(source, "examples", task) is False:
            p.skipped[task] = "task not in the data source"
        elif "documents" in row.needs and has_split(source, "documents", task) is False:
            p.skipped[task] = "no documents"
        else:
            p.tasks.append(task)
    return p


# -- running -------------------------------------------------------------------------------------------
class AnseriniProtocol:
    """Anserini's BRIGHT regressions score with the official qrels and `-removeQuery` (a hit whose doc
    id equals the query id is dropped) but without BRIGHT's exclusion lists. This view of a source
    gives each example exactly that exclusion, so the same scorer reproduces Anserini's numbers."""

    def __init__(self, inner):
        self.inner = inner
        self.description = f"{inner.description} [anserini protocol: -removeQuery, no exclusion lists]"

    def examples(self, task: str):
        return [dataclasses.replace(e, excluded_ids=[e.id]) for e in self.inner.examples(task)]

    def documents(self, task: str, long: bool = False):
        return self.inner.documents(task, long)

    def reasoning(self, task: str, name: str):
        return self.inner.reasoning(task, name)

    def __getattr__(self, name: str):  # revision_id, root, check, ...: the inner source's
        return getattr(self.inner, name)


def source_for(row: Row, source):
    return AnseriniProtocol(source) if row.protocol == "anserini" else source


def _run_row(row: Row, source, results_dir: Path, cache) -> dict[str, dict]:
    """Run `row`'s cells (its `tasks`, `rewriter`, `retriever` and their args) and return
    {task: metrics} as the results files hold them (0-1 values); a failed cell gives {"error": why}.
    The one place that knows how cells run."""
    from .execute import execute
    from .plan import ComponentRef, Request, make_plan

    request = Request([ComponentRef(row.rewriter, dict(row.rewriter_args))], [ComponentRef(row.retriever, dict(row.retriever_args))],
                      list(row.tasks))
    out: dict[str, dict] = {}
    for cell in execute(make_plan(request, source, results_dir, cache)):
        if cell.status in ("done", "reused"):
            out[cell.task] = json.loads(location(cell.path).read_text(encoding="utf-8"))["metrics"]
        else:
            out[cell.task] = {"error": cell.error}
    return out


@dataclass
class Outcome:
    row: Row
    plan: Plan
    checks: list[Check]
    errors: dict[str, str]
    revision: str | None
    unverified: dict[str, str] = field(default_factory=dict)  # task -> why its data is not known to be BRIGHT
    measured: dict[str, dict] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return FAIL if self.errors else worst(c.verdict for c in self.checks)

    @property
    def ran(self) -> bool:
        return not self.plan.blocked and bool(self.plan.tasks)

    def subset_mean(self) -> tuple[str, float] | None:
        """With --tasks: (metric, mean over the chosen tasks, x100), shown but never judged."""
        if not self.row.subset_of:
            return None
        metric = self.row.metrics[0]
        values = [(self.measured.get(t) or {}).get(metric) for t in self.row.tasks]
        if not values or not all(isinstance(v, (int, float)) for v in values):
            return None
        return metric, 100 * fmean(values)

    def subset_note(self) -> str:
        mean = self.subset_mean()
        if mean is None:
            return ""
        return (f"mean {mean[0]} over the {len(self.row.tasks)} chosen tasks: {mean[1]:.2f} (not the published "
                f"{self.row.subset_of}-task average; not judged)")


def run_rows(plans: list[Plan], source, results_dir: Path, cache, on_row=None, identity=None) -> list[Outcome]:
    """Run every plan that can run; rows that cannot are reported with no checks measured. Each task
    measured is judged only if `identity` (a `bright_identity.Identity`; made from `source` when not
    given) knows its data to be BRIGHT."""
    from .bright_identity import Identity
    from .data import Versioned

    identity = identity or Identity(source)
    outcomes = []
    for p in plans:
        measured: dict[str, dict] = {}
        if not p.blocked and p.tasks:
            row = dataclasses.replace(p.row, rewriter=p.rewriter, tasks=tuple(p.tasks))
            measured = _run_row(row, source_for(p.row, source), location(results_dir) / p.row.id, cache)
        errors = {t: m["error"] for t, m in measured.items() if "error" in m}
        revision = None
        if measured:
            try:
                revision = source.revision_id if isinstance(source, Versioned) else None
            except BrightEvalError:
                revision = None
        unverified = {t: why for t in measured if "error" not in measured[t] and (why := identity.task(t))}
        out = Outcome(p.row, p, compare(p.row, measured, unverified), errors, revision, unverified, measured)
        outcomes.append(out)
        if on_row:
            on_row(out)
    return outcomes


def revision_warning(row: Row, revision: str | None) -> str:
    """A row made on a known data revision, run on another: say so next to the verdicts."""
    if not row.bright_revision or not revision or revision.startswith(row.bright_revision):
        return ""
    return (f"the published numbers were made on BRIGHT revision {row.bright_revision}; this run used {revision} "
            f"(pin it with --revision)")
