"""Writing the explorer: a small folder that opens from file:// (index.html, data/task-N.js, one
data/<task>/<n>.js per query, loaded on demand by <script> injection, which file:// allows where
fetch() does not), or one self-contained HTML file whose data sits in inert JSON <script> blocks
parsed only when a page needs them. No CDN, no server; `serve` is a plain 127.0.0.1 file server."""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bright_eval.data import DataSource
from bright_eval.io import atomic_write_text
from bright_eval.record import ResultRecord

from .pages import Options, explainers_for, overview, query_data, task_data, task_inputs
from .systems import find_systems

log = logging.getLogger(__name__)


@dataclass
class Built:
    files: int
    bytes: int
    queries: int
    tasks: int
    systems: int
    notes: dict[str, list[str]]
    seconds: float


def _json(obj: Any) -> str:
    # '<' escaped: the same text is safe inside an HTML <script> block (no '</script>', no '<!--').
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def _env():
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("bright_eval.explore", "templates"), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda v, d=1: "–" if v is None else f"{100 * v:.{d}f}"
    env.filters["signed"] = lambda v, d=1: "–" if v is None else f"{100 * v:+.{d}f}"
    return env


def task_key(task: str) -> str:
    return f"task/{task}"


def query_key(task: str, qid: str) -> str:
    return f"q/{task}/{qid}"


def build_site(records: list[ResultRecord], out: Path, source: DataSource | None, source_note: str, opts: Options,
               systems_only: list[str] | None = None, settings: str | None = None, split_settings: bool = False,
               single_file: bool = False, say: Callable[[str], None] = lambda s: None) -> Built:
    t0 = time.perf_counter()
    systems = find_systems(records, opts.baseline, systems_only, settings, split_settings)
    tasks = [t for t in _task_order(systems)]
    notes: dict[str, list[str]] = {"": [] if source is not None else [f"no examples or documents: {source_note}"]}
    blobs: dict[str, str] = {}    # key -> JSON text
    paths: dict[str, str] = {}    # key -> relative .js path (folder mode)
    n_queries = 0
    for ti, task in enumerate(tasks):
        inp = task_inputs(task, systems, source, with_docs=True)
        explainers = explainers_for(inp, systems, opts)
        qkeys = {}
        for qi, qid in enumerate(inp.qids):
            key = query_key(task, qid)
            blobs[key] = _json(query_data(inp, qid, systems, opts, explainers))
            paths[key] = f"data/{ti}/{qi}.js"
            qkeys[qid] = paths[key]
        td = task_data(inp, systems, opts)
        td["files"] = [qkeys[q] for q in inp.qids]
        blobs[task_key(task)] = _json(td)
        paths[task_key(task)] = f"data/task-{ti}.js"
        notes[task] = inp.notes
        n_queries += len(inp.qids)
        say(f"{task}: {len(inp.qids)} queries, {len(systems)} systems" + (f" ({'; '.join(inp.notes)})" if inp.notes else ""))
    ov = overview(systems, opts, notes)
    ov["task_files"] = {t: paths[task_key(t)] for t in tasks}
    ov["source"] = source_note
    html = _env().get_template("index.html.j2").render(ov=ov, ov_json=_json(ov), css=_asset("explore.css"), js=_asset("explore.js"),
                                                        inline=blobs if single_file else {})
    files, size = 0, 0
    if single_file:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, html)
        files, size = 1, out.stat().st_size
    else:
        out.mkdir(parents=True, exist_ok=True)
        if (out / "data").is_dir():
            shutil.rmtree(out / "data")  # a previous site's query files would otherwise linger
        for key, rel in paths.items():
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            text = f"BE.put({_json(key)},{blobs[key]});\n"
            path.write_text(text, encoding="utf-8")
            files, size = files + 1, size + len(text.encode())
        atomic_write_text(out / "index.html", html)
        files, size = files + 1, size + (out / "index.html").stat().st_size
    return Built(files, size, n_queries, len(tasks), len(systems), notes, time.perf_counter() - t0)


def _task_order(systems) -> list[str]:
    from bright_eval.tasks import TASKS

    return [t for t in TASKS if any(t in s.records for s in systems)]


def _asset(name: str) -> str:
    from importlib import resources

    return (resources.files("bright_eval.explore") / "templates" / name).read_text(encoding="utf-8")


def serve(folder: Path, port: int, say: Callable[[str], None]) -> None:
    """Serve `folder` on 127.0.0.1 until interrupted (port 0: any free port)."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 - http.server's signature
            log.debug(format, *args)

    handler = functools.partial(Quiet, directory=str(folder))
    with ThreadingHTTPServer(("127.0.0.1", port), handler) as httpd:
        say(f"serving {folder} on http://127.0.0.1:{httpd.server_address[1]}/ (Ctrl-C stops)")
        httpd.serve_forever()
